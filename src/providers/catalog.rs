//! The built-in providers. Each entry is the provider's public API as documented by the provider.

use super::{AuthStyle, ProviderSpec};
use crate::formats::Format;

/// An OpenAI-compatible provider: Bearer auth, Chat Completions below the base URL.
const fn openai_compatible(
    id: &'static str,
    name: &'static str,
    aliases: &'static [&'static str],
    base_url: &'static str,
    models: &'static [&'static str],
) -> ProviderSpec {
    ProviderSpec { id, name, aliases, base_url, format: Format::OpenAiChat, auth: AuthStyle::Bearer, models }
}

pub static ALL: &[ProviderSpec] = &[
    ProviderSpec {
        id: "anthropic",
        name: "Anthropic",
        aliases: &["claude"],
        base_url: "https://api.anthropic.com/v1",
        format: Format::Anthropic,
        auth: AuthStyle::Header("x-api-key"),
        models: &["claude-opus-4-1", "claude-sonnet-4-5", "claude-haiku-4-5"],
    },
    ProviderSpec {
        id: "gemini",
        name: "Google Gemini",
        aliases: &["google"],
        base_url: "https://generativelanguage.googleapis.com/v1beta",
        format: Format::Gemini,
        auth: AuthStyle::Header("x-goog-api-key"),
        models: &["gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite"],
    },
    ProviderSpec {
        id: "openai-responses",
        name: "OpenAI (Responses API)",
        aliases: &["oair"],
        base_url: "https://api.openai.com/v1",
        format: Format::OpenAiResponses,
        auth: AuthStyle::Bearer,
        models: &["gpt-5", "gpt-5-mini", "gpt-5-codex", "o3", "o4-mini"],
    },
    openai_compatible(
        "openai",
        "OpenAI",
        &["oai"],
        "https://api.openai.com/v1",
        &["gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4o", "gpt-4o-mini", "o3", "o4-mini"],
    ),
    openai_compatible("openrouter", "OpenRouter", &["or"], "https://openrouter.ai/api/v1", &["openrouter/auto"]),
    openai_compatible(
        "deepseek",
        "DeepSeek",
        &["ds"],
        "https://api.deepseek.com/v1",
        &["deepseek-chat", "deepseek-reasoner"],
    ),
    openai_compatible(
        "groq",
        "Groq",
        &[],
        "https://api.groq.com/openai/v1",
        &["llama-3.3-70b-versatile", "llama-3.1-8b-instant", "openai/gpt-oss-120b"],
    ),
    openai_compatible("xai", "xAI", &[], "https://api.x.ai/v1", &["grok-4", "grok-3-mini"]),
    openai_compatible(
        "mistral",
        "Mistral",
        &[],
        "https://api.mistral.ai/v1",
        &["mistral-large-latest", "mistral-small-latest", "codestral-latest"],
    ),
    openai_compatible("perplexity", "Perplexity", &["pplx"], "https://api.perplexity.ai", &["sonar", "sonar-pro"]),
    openai_compatible(
        "together",
        "Together AI",
        &[],
        "https://api.together.xyz/v1",
        &["meta-llama/Llama-3.3-70B-Instruct-Turbo"],
    ),
    openai_compatible(
        "fireworks",
        "Fireworks AI",
        &[],
        "https://api.fireworks.ai/inference/v1",
        &["accounts/fireworks/models/llama-v3p3-70b-instruct"],
    ),
    openai_compatible("cerebras", "Cerebras", &[], "https://api.cerebras.ai/v1", &["llama-3.3-70b", "qwen-3-32b"]),
    openai_compatible("kimi", "Moonshot Kimi", &[], "https://api.moonshot.ai/v1", &["kimi-k2-0905-preview"]),
    openai_compatible(
        "nvidia",
        "NVIDIA NIM",
        &[],
        "https://integrate.api.nvidia.com/v1",
        &["meta/llama-3.3-70b-instruct"],
    ),
    openai_compatible(
        "nebius",
        "Nebius AI Studio",
        &[],
        "https://api.tokenfactory.nebius.com/v1",
        &["meta-llama/Llama-3.3-70B-Instruct"],
    ),
    openai_compatible(
        "siliconflow",
        "SiliconFlow",
        &[],
        "https://api.siliconflow.com/v1",
        &["deepseek-ai/DeepSeek-V3"],
    ),
    openai_compatible(
        "hyperbolic",
        "Hyperbolic",
        &["hyp"],
        "https://api.hyperbolic.xyz/v1",
        &["meta-llama/Llama-3.3-70B-Instruct"],
    ),
];
