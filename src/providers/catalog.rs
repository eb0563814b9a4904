//! The built-in providers. Each entry is the provider's public API as documented by the provider.
//!
//! Coverage follows OmniRoute's chat registry (research/omniroute.md §2.1 and the Appendix): every
//! provider there that works with a plain API key, a fixed base URL and a standard wire format
//! (OpenAI Chat, Anthropic Messages, Gemini, OpenAI Responses). Left out on purpose: OAuth-only
//! providers, cookie/session "web" providers, providers with their own executors or protocols
//! (Bedrock, Vertex, Cloudflare account URLs, Qoder, OpenCode, …), per-account hosts
//! (Databricks, Snowflake) and media-only APIs (image, music, video).
//!
//! Besides chat, a provider may offer other kinds of models (`.offering(…)`: embeddings, images,
//! transcription, speech, moderation, rerank), each through a [`Service`] naming its wire and the
//! models known to be of that kind. Two providers here have no chat at all (Jina, Voyage).
//!
//! Invariants (tested below and in `super::tests`): ids and aliases are unique, lowercase and
//! slash-free; no provider name takes a vendor prefix used inside model ids (`meta-llama/…`), since
//! a bare `vendor/model` would then select that provider; base URLs are https, without a trailing
//! slash and without the format's path (the engine appends `/chat/completions`, `/messages`, …);
//! every provider lists at least one model (of any kind); every format/auth pair is one the engine
//! can send; every model belongs to one kind.
//! All of it is `'static` data: nothing is allocated.

use super::ModelKind::{Embedding, Image, Moderation, Rerank, Speech, Transcription};
use super::{AuthStyle, ProviderSpec, Service, Wire};
use crate::formats::Format;

/// An OpenAI-compatible provider: Bearer auth, Chat Completions below the base URL.
const fn openai_compatible(
    id: &'static str,
    name: &'static str,
    aliases: &'static [&'static str],
    base_url: &'static str,
    models: &'static [&'static str],
) -> ProviderSpec {
    ProviderSpec::builtin(id, name, aliases, base_url, Format::OpenAiChat, AuthStyle::Bearer, models)
}

/// An Anthropic-Messages provider (`/messages` below the base URL) with the given key header.
const fn anthropic_compatible(
    id: &'static str,
    name: &'static str,
    aliases: &'static [&'static str],
    base_url: &'static str,
    auth: AuthStyle,
    models: &'static [&'static str],
) -> ProviderSpec {
    ProviderSpec::builtin(id, name, aliases, base_url, Format::Anthropic, auth, models)
}

/// `x-api-key`, the Anthropic header most Anthropic-format providers copy.
const X_API_KEY: AuthStyle = AuthStyle::Header("x-api-key");

pub static ALL: &[ProviderSpec] = &[
    ProviderSpec::builtin(
        "anthropic",
        "Anthropic",
        &["claude"],
        "https://api.anthropic.com/v1",
        Format::Anthropic,
        AuthStyle::Header("x-api-key"),
        &["claude-opus-4-1", "claude-sonnet-4-5", "claude-haiku-4-5"],
    ),
    ProviderSpec::builtin(
        "gemini",
        "Google Gemini",
        &["google"],
        "https://generativelanguage.googleapis.com/v1beta",
        Format::Gemini,
        AuthStyle::Header("x-goog-api-key"),
        &["gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite"],
    )
    .offering(&[
        Service::new(Embedding, Wire::Gemini, &["gemini-embedding-001", "text-embedding-004"]),
        Service::new(
            Image,
            Wire::Gemini,
            &["imagen-4.0-generate-001", "imagen-4.0-fast-generate-001", "imagen-3.0-generate-002"],
        ),
    ]),
    ProviderSpec::builtin(
        "openai-responses",
        "OpenAI (Responses API)",
        &["oair"],
        "https://api.openai.com/v1",
        Format::OpenAiResponses,
        AuthStyle::Bearer,
        &["gpt-5", "gpt-5-mini", "gpt-5-codex", "o3", "o4-mini"],
    ),
    openai_compatible(
        "openai",
        "OpenAI",
        &["oai"],
        "https://api.openai.com/v1",
        &["gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4o", "gpt-4o-mini", "o3", "o4-mini"],
    )
    .offering(&[
        Service::openai(Embedding, &["text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002"]),
        Service::openai(Image, &["gpt-image-1", "dall-e-3", "dall-e-2"]),
        Service::openai(Transcription, &["whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"]),
        Service::openai(Speech, &["gpt-4o-mini-tts", "tts-1", "tts-1-hd"]),
        Service::openai(Moderation, &["omni-moderation-latest", "text-moderation-latest"]),
    ]),
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
    )
    .offering(&[Service::openai(Transcription, &["whisper-large-v3", "whisper-large-v3-turbo"])]),
    openai_compatible("xai", "xAI", &[], "https://api.x.ai/v1", &["grok-4", "grok-3-mini"])
        .offering(&[Service::openai(Image, &["grok-2-image-1212"])]),
    openai_compatible(
        "mistral",
        "Mistral",
        &[],
        "https://api.mistral.ai/v1",
        &["mistral-large-latest", "mistral-small-latest", "codestral-latest"],
    )
    .offering(&[
        Service::openai(Embedding, &["mistral-embed", "codestral-embed"]),
        Service::openai(Transcription, &["voxtral-mini-latest"]),
    ]),
    openai_compatible("perplexity", "Perplexity", &["pplx"], "https://api.perplexity.ai", &["sonar", "sonar-pro"]),
    openai_compatible(
        "together",
        "Together AI",
        &[],
        "https://api.together.xyz/v1",
        &["meta-llama/Llama-3.3-70B-Instruct-Turbo"],
    )
    .offering(&[
        Service::openai(Embedding, &["BAAI/bge-large-en-v1.5", "intfloat/multilingual-e5-large-instruct"]),
        Service::openai(Image, &["black-forest-labs/FLUX.1-schnell"]),
        Service::openai(Transcription, &["openai/whisper-large-v3"]),
        Service::openai(Speech, &["cartesia/sonic-2"]),
        Service::new(Rerank, Wire::Cohere, &["Salesforce/Llama-Rank-V1"]),
    ]),
    openai_compatible(
        "fireworks",
        "Fireworks AI",
        &[],
        "https://api.fireworks.ai/inference/v1",
        &["accounts/fireworks/models/llama-v3p3-70b-instruct"],
    )
    .offering(&[Service::openai(Embedding, &["nomic-ai/nomic-embed-text-v1.5"])]),
    openai_compatible("cerebras", "Cerebras", &[], "https://api.cerebras.ai/v1", &["llama-3.3-70b", "qwen-3-32b"]),
    openai_compatible("kimi", "Moonshot Kimi", &["moonshot"], "https://api.moonshot.ai/v1", &["kimi-k2-0905-preview"]),
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
    )
    .offering(&[Service::openai(Embedding, &["BAAI/bge-en-icl"])]),
    openai_compatible(
        "siliconflow",
        "SiliconFlow",
        &[],
        "https://api.siliconflow.com/v1",
        &["deepseek-ai/DeepSeek-V3"],
    )
    .offering(&[
        Service::openai(Embedding, &["BAAI/bge-m3"]),
        Service::new(Rerank, Wire::Cohere, &["BAAI/bge-reranker-v2-m3"]),
    ]),
    openai_compatible(
        "hyperbolic",
        "Hyperbolic",
        &["hyp"],
        "https://api.hyperbolic.xyz/v1",
        &["meta-llama/Llama-3.3-70B-Instruct"],
    ),
    // ---- Providers of embeddings and rerank only (no chat models). ----
    openai_compatible("jina", "Jina AI", &[], "https://api.jina.ai/v1", &[]).offering(&[
        Service::openai(Embedding, &["jina-embeddings-v3", "jina-clip-v2"]),
        Service::new(Rerank, Wire::Cohere, &["jina-reranker-v2-base-multilingual", "jina-reranker-m0"]),
    ]),
    openai_compatible("voyage", "Voyage AI", &[], "https://api.voyageai.com/v1", &[]).offering(&[
        Service::new(Embedding, Wire::Voyage, &["voyage-3.5", "voyage-3.5-lite", "voyage-code-3"]),
        Service::new(Rerank, Wire::Voyage, &["rerank-2.5", "rerank-2.5-lite"]),
    ]),
    // ---- Anthropic-format providers (Messages API below the base URL). ----
    // Z.ai's Anthropic-compatible endpoint for the GLM Coding Plan (OmniRoute: `zai`).
    anthropic_compatible(
        "zai",
        "Z.ai (Anthropic format)",
        &[],
        "https://api.z.ai/api/anthropic/v1",
        X_API_KEY,
        &["glm-5", "glm-4.7", "glm-4.6", "glm-4.5-air"],
    ),
    // MiniMax moved from `x-api-key` to Bearer (OmniRoute 3.8.49 registry).
    anthropic_compatible(
        "minimax",
        "MiniMax",
        &[],
        "https://api.minimax.io/anthropic/v1",
        AuthStyle::Bearer,
        &["MiniMax-M2.7", "MiniMax-M2.5", "MiniMax-M2.1", "MiniMax-M2"],
    ),
    anthropic_compatible(
        "minimax-cn",
        "MiniMax (China)",
        &[],
        "https://api.minimaxi.com/anthropic/v1",
        AuthStyle::Bearer,
        &["MiniMax-M2.7", "MiniMax-M2.5", "MiniMax-M2.1", "MiniMax-M2"],
    ),
    // The API-key variant of Kimi Coding; the `kmc/` variant is OAuth-only and not built in.
    anthropic_compatible(
        "kimi-coding-apikey",
        "Kimi Coding (API key)",
        &["kmca"],
        "https://api.kimi.com/coding/v1",
        X_API_KEY,
        &["kimi-for-coding"],
    ),
    anthropic_compatible(
        "bailian-coding-plan",
        "Alibaba Bailian Coding Plan",
        &["bcp"],
        "https://coding-intl.dashscope.aliyuncs.com/apps/anthropic/v1",
        X_API_KEY,
        &["qwen3-coder-plus", "qwen3-max"],
    ),
    anthropic_compatible(
        "agentrouter",
        "AgentRouter",
        &[],
        "https://agentrouter.org/v1",
        X_API_KEY,
        &["claude-sonnet-4-5-20250929", "glm-4.6"],
    ),
    // ---- OpenAI-compatible providers (Chat Completions below the base URL). ----
    openai_compatible(
        "cohere",
        "Cohere",
        &[],
        "https://api.cohere.com/compatibility/v1",
        &["command-a-03-2025", "command-r-plus-08-2024", "command-r7b-12-2024"],
    )
    .offering(&[
        Service::openai(Embedding, &["embed-v4.0", "embed-english-v3.0", "embed-multilingual-v3.0"]),
        Service::new(Rerank, Wire::Cohere, &["rerank-v3.5", "rerank-english-v3.0"]).at("https://api.cohere.com/v2"),
    ]),
    // Z.ai GLM Coding Plan, OpenAI format (OmniRoute `glm`; `glmt` is the same endpoint with thinking defaults).
    openai_compatible(
        "glm",
        "Z.ai GLM Coding Plan",
        &["glmt"],
        "https://api.z.ai/api/coding/paas/v4",
        &["glm-5", "glm-4.7", "glm-4.6", "glm-4.5-air"],
    ),
    openai_compatible(
        "glm-cn",
        "Zhipu GLM Coding Plan (China)",
        &["glmcn"],
        "https://open.bigmodel.cn/api/coding/paas/v4",
        &["glm-5", "glm-4.7", "glm-4.6", "glm-4.5-air"],
    ),
    // Pay-as-you-go general endpoints (not the coding plan).
    openai_compatible(
        "zai-api",
        "Z.ai API",
        &[],
        "https://api.z.ai/api/paas/v4",
        &["glm-5", "glm-4.7", "glm-4.6", "glm-4.5-air"],
    ),
    openai_compatible(
        "zhipu",
        "Zhipu AI (BigModel)",
        &["bigmodel"],
        "https://open.bigmodel.cn/api/paas/v4",
        &["glm-4.7", "glm-4.6", "glm-4.5-air", "glm-4-flash"],
    )
    .offering(&[Service::openai(Embedding, &["embedding-3"])]),
    openai_compatible(
        "alibaba",
        "Alibaba Cloud Model Studio (DashScope)",
        &["ali", "dashscope"],
        "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        &["qwen3-max", "qwen-plus", "qwen-flash", "qwen3-coder-plus"],
    )
    .offering(&[Service::openai(Embedding, &["text-embedding-v4", "text-embedding-v3"])]),
    openai_compatible(
        "alibaba-cn",
        "Alibaba DashScope (China)",
        &["ali-cn", "dashscope-cn"],
        "https://dashscope.aliyuncs.com/compatible-mode/v1",
        &["qwen3-max", "qwen-plus", "qwen-flash", "qwen3-coder-plus"],
    ),
    openai_compatible(
        "huggingface",
        "Hugging Face Inference Providers",
        &["hf"],
        "https://router.huggingface.co/v1",
        &["openai/gpt-oss-120b", "deepseek-ai/DeepSeek-V3.1", "Qwen/Qwen3-Coder-480B-A35B-Instruct"],
    ),
    openai_compatible(
        "sambanova",
        "SambaNova",
        &["samba"],
        "https://api.sambanova.ai/v1",
        &["DeepSeek-V3.2", "Meta-Llama-3.3-70B-Instruct", "Llama-4-Maverick-17B-128E-Instruct", "gpt-oss-120b"],
    ),
    openai_compatible(
        "novita",
        "Novita AI",
        &[],
        "https://api.novita.ai/openai/v1",
        &["deepseek/deepseek-v3.1", "meta-llama/llama-3.3-70b-instruct", "qwen/qwen3-coder-480b-a35b-instruct"],
    ),
    openai_compatible(
        "deepinfra",
        "DeepInfra",
        &[],
        "https://api.deepinfra.com/v1/openai",
        &[
            "openai/gpt-oss-120b",
            "meta-llama/Llama-3.3-70B-Instruct-Turbo",
            "deepseek-ai/DeepSeek-V4-Pro",
            "Qwen/Qwen3.5-397B-A17B",
        ],
    )
    .offering(&[
        Service::openai(Embedding, &["BAAI/bge-large-en-v1.5", "BAAI/bge-m3"]),
        Service::openai(Transcription, &["openai/whisper-large-v3"]),
    ]),
    openai_compatible("ai21", "AI21 Labs", &[], "https://api.ai21.com/studio/v1", &["jamba-large-1.7", "jamba-mini-2"]),
    openai_compatible("upstage", "Upstage", &[], "https://api.upstage.ai/v1", &["solar-pro3", "solar-mini"]),
    openai_compatible(
        "baichuan",
        "Baichuan",
        &[],
        "https://api.baichuan-ai.com/v1",
        &["Baichuan4-Turbo", "Baichuan4-Air", "Baichuan4"],
    ),
    openai_compatible(
        "baidu",
        "Baidu Qianfan",
        &["qianfan"],
        "https://qianfan.baidubce.com/v2",
        &["ernie-4.5-turbo-128k", "ernie-x1-turbo-32k"],
    ),
    openai_compatible(
        "tencent",
        "Tencent Hunyuan",
        &["hunyuan"],
        "https://api.hunyuan.cloud.tencent.com/v1",
        &["hunyuan-turbos-latest", "hunyuan-t1-latest", "hunyuan-lite"],
    ),
    openai_compatible(
        "volcengine",
        "Volcengine Ark (Doubao)",
        &["doubao"],
        "https://ark.cn-beijing.volces.com/api/v3",
        &["doubao-seed-2-0-pro-260215", "deepseek-v3-2-251201", "kimi-k2-5-260127", "glm-4-7-251222"],
    ),
    openai_compatible(
        "byteplus",
        "BytePlus ModelArk",
        &["bpm"],
        "https://ark.ap-southeast.bytepluses.com/api/v3",
        &["seed-2.0", "kimi-k2-thinking", "glm-4.7", "gpt-oss-120b"],
    ),
    openai_compatible("stepfun", "StepFun", &[], "https://api.stepfun.com/v1", &["step-3", "step-2-16k", "step-1-8k"]),
    openai_compatible("yi", "01.AI Yi", &[], "https://api.lingyiwanwu.com/v1", &["yi-lightning", "yi-large"]),
    openai_compatible("qiniu", "Qiniu AI", &[], "https://api.qnaigc.com/v1", &["deepseek-v3", "deepseek-r1"]),
    openai_compatible(
        "modelscope",
        "ModelScope",
        &["ms"],
        "https://api-inference.modelscope.cn/v1",
        &["Qwen/Qwen3-Coder-480B-A35B-Instruct", "deepseek-ai/DeepSeek-V3.1", "ZhipuAI/GLM-4.6"],
    ),
    openai_compatible(
        "xiaomi-mimo",
        "Xiaomi MiMo",
        &["mimo"],
        "https://api.xiaomimimo.com/v1",
        &["mimo-v2.5-pro", "mimo-v2.5", "mimo-v2-flash"],
    ),
    openai_compatible(
        "longcat",
        "LongCat",
        &["lc"],
        "https://api.longcat.chat/openai/v1",
        &["LongCat-Flash-Chat", "LongCat-Flash-Thinking"],
    ),
    openai_compatible(
        "ollama-cloud",
        "Ollama Cloud",
        &["ollamacloud"],
        "https://ollama.com/v1",
        &["gpt-oss:120b", "deepseek-v3.1:671b", "qwen3-coder:480b", "kimi-k2:1t"],
    ),
    openai_compatible(
        "codestral",
        "Mistral Codestral",
        &[],
        "https://codestral.mistral.ai/v1",
        &["codestral-latest", "codestral-2508"],
    ),
    openai_compatible(
        "github-models",
        "GitHub Models",
        &["ghm"],
        "https://models.github.ai/inference",
        &["openai/gpt-4.1", "openai/gpt-4o-mini", "meta/Llama-3.3-70B-Instruct", "deepseek/DeepSeek-R1"],
    ),
    openai_compatible(
        "llama-api",
        "Meta Llama API",
        &[],
        "https://api.llama.com/compat/v1",
        &["Llama-4-Maverick-17B-128E-Instruct-FP8", "Llama-4-Scout-17B-16E-Instruct-FP8", "Llama-3.3-70B-Instruct"],
    ),
    openai_compatible("reka", "Reka", &[], "https://api.reka.ai/v1", &["reka-flash-3", "reka-core"]),
    openai_compatible(
        "nous-research",
        "Nous Research",
        &["nous"],
        "https://inference-api.nousresearch.com/v1",
        &["Hermes-4-405B", "Hermes-4-70B"],
    ),
    openai_compatible(
        "featherless",
        "Featherless AI",
        &[],
        "https://api.featherless.ai/v1",
        &["featherless-ai/Qwerky-72B", "featherless-ai/Qwerky-QwQ-32B"],
    ),
    openai_compatible(
        "friendliai",
        "FriendliAI",
        &["friendli"],
        "https://api.friendli.ai/serverless/v1",
        &["meta-llama-3.1-70b-instruct", "meta-llama-3.1-8b-instruct"],
    ),
    openai_compatible(
        "lambda-ai",
        "Lambda",
        &["lambda"],
        "https://api.lambda.ai/v1",
        &["deepseek-r1-671b", "llama3.3-70b-instruct-fp8", "qwen25-coder-32b-instruct"],
    ),
    openai_compatible(
        "baseten",
        "Baseten",
        &[],
        "https://inference.baseten.co/v1",
        &["moonshotai/Kimi-K2.6", "deepseek-ai/DeepSeek-V4-Pro", "zai-org/GLM-5", "openai/gpt-oss-120b"],
    ),
    openai_compatible(
        "nscale",
        "Nscale",
        &[],
        "https://inference.api.nscale.com/v1",
        &["moonshotai/Kimi-K2.5", "Qwen/Qwen3-235B-A22B-Instruct-2507", "openai/gpt-oss-120b"],
    ),
    openai_compatible(
        "ovhcloud",
        "OVHcloud AI Endpoints",
        &["ovh"],
        "https://oai.endpoints.kepler.ai.cloud.ovh.net/v1",
        &["Meta-Llama-3_3-70B-Instruct", "Qwen2.5-Coder-32B-Instruct", "Mistral-Small-3.2-24B-Instruct-2506"],
    ),
    openai_compatible(
        "scaleway",
        "Scaleway Generative APIs",
        &["scw"],
        "https://api.scaleway.ai/v1",
        &["llama-3.3-70b-instruct", "gpt-oss-120b", "mistral-small-3.2-24b-instruct-2506"],
    ),
    openai_compatible(
        "digitalocean",
        "DigitalOcean Gradient",
        &[],
        "https://inference.do-ai.run/v1",
        &["openai-gpt-oss-120b", "llama3.3-70b-instruct"],
    ),
    openai_compatible(
        "heroku",
        "Heroku Managed Inference",
        &[],
        "https://us.inference.heroku.com/v1",
        &["claude-4-6-sonnet", "claude-4-5-haiku", "gpt-oss-120b"],
    ),
    openai_compatible(
        "wandb",
        "Weights & Biases Inference",
        &[],
        "https://api.inference.wandb.ai/v1",
        &["openai/gpt-oss-120b", "Qwen/Qwen3-Coder-480B-A35B-Instruct", "deepseek-ai/DeepSeek-V3.1"],
    ),
    openai_compatible(
        "inference-net",
        "Inference.net",
        &["inet"],
        "https://api.inference.net/v1",
        &["meta-llama/Llama-3.3-70B-Instruct", "deepseek-ai/DeepSeek-R1", "Qwen/Qwen2.5-72B-Instruct"],
    ),
    openai_compatible(
        "publicai",
        "PublicAI",
        &[],
        "https://api.publicai.co/v1",
        &["swiss-ai/apertus-70b-instruct", "allenai/Olmo-3-32B-Think"],
    ),
    openai_compatible("predibase", "Predibase", &[], "https://serving.app.predibase.com/v1", &["llama-3.3-70b"]),
    openai_compatible(
        "bytez",
        "Bytez",
        &[],
        "https://api.bytez.com/models/v2/openai/v1",
        &["meta-llama/Llama-3.3-70B-Instruct", "Qwen/Qwen2.5-72B-Instruct"],
    ),
    openai_compatible("galadriel", "Galadriel", &[], "https://api.galadriel.ai/v1", &["galadriel-latest"]),
    openai_compatible(
        "llamagate",
        "LlamaGate",
        &[],
        "https://llamagate.ai/v1",
        &["qwen2.5-coder-7b", "deepseek-coder-6.7b", "qwen3-vl-8b"],
    ),
    openai_compatible(
        "synthetic",
        "Synthetic",
        &[],
        "https://api.synthetic.new/openai/v1",
        &[
            "hf:deepseek-ai/DeepSeek-V3.1",
            "hf:Qwen/Qwen3-Coder-480B-A35B-Instruct",
            "hf:moonshotai/Kimi-K2-Instruct-0905",
        ],
    ),
    openai_compatible("morph", "Morph", &[], "https://api.morphllm.com/v1", &["morph-v3-large", "morph-v3-fast"]),
    openai_compatible(
        "venice",
        "Venice AI",
        &[],
        "https://api.venice.ai/api/v1",
        &["venice-uncensored", "llama-3.3-70b", "qwen3-235b"],
    ),
    openai_compatible("v0-vercel", "v0 (Vercel)", &["v0"], "https://api.v0.dev/v1", &["v0-1.5-md", "v0-1.5-lg"]),
    // Gateways and routers (model ids carry the upstream vendor).
    openai_compatible(
        "vercel-ai-gateway",
        "Vercel AI Gateway",
        &["vag"],
        "https://ai-gateway.vercel.sh/v1",
        &["openai/gpt-4.1", "anthropic/claude-4-sonnet", "google/gemini-2.5-pro", "moonshotai/kimi-k2"],
    ),
    openai_compatible(
        "requesty",
        "Requesty",
        &[],
        "https://router.requesty.ai/v1",
        &["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-20250514"],
    ),
    openai_compatible(
        "zenmux",
        "ZenMux",
        &["zm"],
        "https://zenmux.ai/api/v1",
        &["openai/gpt-5", "anthropic/claude-sonnet-4.5", "google/gemini-2.5-pro"],
    ),
    openai_compatible(
        "kilo-gateway",
        "Kilo Gateway",
        &["kg"],
        "https://api.kilo.ai/api/gateway",
        &["anthropic/claude-sonnet-4.5", "openai/gpt-5"],
    ),
    openai_compatible(
        "nanogpt",
        "NanoGPT",
        &[],
        "https://nano-gpt.com/api/v1",
        &["chatgpt-4o-latest", "claude-3.5-sonnet", "gpt-4o-mini"],
    ),
    openai_compatible(
        "aimlapi",
        "AI/ML API",
        &["aiml"],
        "https://api.aimlapi.com/v1",
        &["gpt-4o", "gpt-4o-mini", "deepseek/deepseek-chat"],
    ),
    openai_compatible(
        "bazaarlink",
        "BazaarLink",
        &["bzl"],
        "https://bazaarlink.ai/api/v1",
        &["auto:free", "claude-sonnet-4.6", "gpt-5.4", "deepseek-v3.2"],
    ),
    openai_compatible(
        "bluesminds",
        "BluesMinds",
        &["bm"],
        "https://api.bluesminds.com/v1",
        &["gpt-4o-mini", "gpt-4.1", "claude-sonnet-4-5", "deepseek-chat"],
    ),
    openai_compatible(
        "api-airforce",
        "api.airforce",
        &["af"],
        "https://api.airforce/v1",
        &["x-ai/grok-3", "qwen/qwen3-32b", "google/gemini-2.5-flash", "deepseek/deepseek-v3"],
    ),
    openai_compatible(
        "crof",
        "Crof",
        &[],
        "https://crof.ai/v1",
        &["deepseek-v4-pro", "kimi-k2.6", "glm-5.1", "qwen3.5-397b-a17b"],
    ),
    openai_compatible("dit", "DIT.ai", &["dai"], "https://api.dit.ai/v1", &["gpt-5.4", "claude-sonnet-4-6"]),
    openai_compatible(
        "freeaiapikey",
        "FreeAIAPIKey",
        &["faik"],
        "https://freeaiapikey.com/v1",
        &["openai/gpt-5", "openai/gpt-4o", "anthropic/claude-sonnet-4.6"],
    ),
    openai_compatible(
        "freemodel-dev",
        "FreeModel.dev",
        &["fmd"],
        "https://api.freemodel.dev/v1",
        &["gpt-5.5", "gpt-5.4", "gpt-5.4-mini"],
    ),
    openai_compatible(
        "gitlawb",
        "GitLawb Open Gateway (MiMo)",
        &["glb"],
        "https://opengateway.gitlawb.com/v1/xiaomi-mimo",
        &["mimo-v2.5-pro", "mimo-v2.5", "mimo-v2-flash"],
    ),
    openai_compatible(
        "gitlawb-gmi",
        "GitLawb Open Gateway (GMI Cloud)",
        &["glb-gmi"],
        "https://opengateway.gitlawb.com/v1/gmi-cloud",
        &["XiaomiMiMo/MiMo-V2.5-Pro", "deepseek-ai/DeepSeek-V4-Pro", "moonshotai/Kimi-K2.6"],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::find;
    use proptest::prelude::*;
    use std::collections::HashSet;

    /// The auth styles the engine (`engine::plan::upstream_headers`) can send for each wire format.
    fn auth_supported(format: Format, auth: AuthStyle) -> bool {
        match (format, auth) {
            (Format::Anthropic, AuthStyle::Header(h)) => h == "x-api-key",
            (Format::Gemini, AuthStyle::Header(h)) => h == "x-goog-api-key",
            (Format::Gemini, AuthStyle::Bearer) => false,
            (Format::OpenAiChat | Format::OpenAiResponses, AuthStyle::Header(h)) => {
                !h.is_empty() && h == h.to_ascii_lowercase()
            }
            (_, AuthStyle::Bearer) => true,
        }
    }

    #[test]
    fn every_provider_has_unique_nonempty_models() {
        for p in ALL {
            assert!(p.models_with_kinds().next().is_some(), "{} has no models", p.id);
            let mut seen = HashSet::new();
            for (m, _) in p.models_with_kinds() {
                assert!(!m.is_empty() && !m.contains(char::is_whitespace), "{}: {m:?}", p.id);
                assert!(seen.insert(m), "{}: duplicate model {m}", p.id);
            }
        }
    }

    /// Every service names a wire the engine can send for its kind, once per kind, and every model
    /// belongs to one kind.
    #[test]
    fn every_service_has_a_wire_the_engine_speaks() {
        for p in ALL.iter().chain([&*node_spec_of_openai()]) {
            let mut kinds = HashSet::new();
            for s in p.services {
                assert!(crate::services::supports(s.kind, s.wire), "{}: {:?} over {:?}", p.id, s.kind, s.wire);
                assert!(kinds.insert(s.kind), "{}: two {:?} services", p.id, s.kind);
                assert!(s.base_url.is_none_or(|b| b.starts_with("https://") && !b.ends_with('/')), "{}", p.id);
            }
            for (m, kind) in p.models_with_kinds() {
                assert_eq!(p.kind_of(m).unwrap_or(kind), kind, "{}: {m}", p.id);
            }
        }
        let kinds_offered: HashSet<_> = ALL.iter().flat_map(|p| p.services.iter().map(|s| s.kind)).collect();
        assert_eq!(kinds_offered.len(), super::super::ModelKind::ALL.len() - 1, "every kind has a provider");
    }

    fn node_spec_of_openai() -> std::rc::Rc<ProviderSpec> {
        let node: crate::providers::ProviderNode = serde_json::from_value(serde_json::json!({
            "id": "lab", "format": "openai", "base_url": "https://lab.example.com/v1"
        }))
        .unwrap();
        let catalog = crate::providers::Catalog::new(&[node], &Default::default());
        match catalog.find("lab") {
            Some(crate::providers::ProviderRef::Owned(spec)) => spec.clone(),
            _ => unreachable!("a node is an owned spec"),
        }
    }

    #[test]
    fn every_format_auth_combination_is_supported() {
        for p in ALL {
            assert!(auth_supported(p.format, p.auth), "{}: {:?} with {:?}", p.id, p.format, p.auth);
            assert!(p.format != Format::Gemini || p.chat_path.is_none(), "{}: Gemini's path names the model", p.id);
        }
    }

    #[test]
    fn auth_rules_reject_unsupported_combinations() {
        assert!(!auth_supported(Format::Gemini, AuthStyle::Bearer));
        assert!(!auth_supported(Format::Anthropic, AuthStyle::Header("x-goog-api-key")));
        assert!(!auth_supported(Format::Gemini, AuthStyle::Header("x-api-key")));
        assert!(!auth_supported(Format::OpenAiChat, AuthStyle::Header("")));
        assert!(auth_supported(Format::Anthropic, AuthStyle::Bearer));
    }

    /// The engine appends the format's path; a base that already carries it would double it.
    #[test]
    fn base_urls_do_not_include_the_format_path() {
        for p in ALL {
            for suffix in ["/chat/completions", "/messages", "/responses", "/models"] {
                assert!(!p.base_url.ends_with(suffix), "{}: {}", p.id, p.base_url);
            }
            assert!(!p.base_url.contains('?') && !p.base_url.contains(' '), "{}", p.id);
        }
    }

    #[test]
    fn ids_are_unique_and_url_safe() {
        let mut ids = HashSet::new();
        for p in ALL {
            assert!(p.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{}", p.id);
            assert!(ids.insert(&p.id), "{}", p.id);
            assert!(!p.name.is_empty(), "{}", p.id);
        }
    }

    #[test]
    fn documented_providers_and_prefixes_resolve() {
        let expect = [
            ("kmca", "kimi-coding-apikey"),
            ("moonshot", "kimi"),
            ("glmt", "glm"),
            ("hf", "huggingface"),
            ("samba", "sambanova"),
            ("ali", "alibaba"),
            ("dashscope", "alibaba"),
            ("qianfan", "baidu"),
            ("doubao", "volcengine"),
            ("ollamacloud", "ollama-cloud"),
            ("pplx", "perplexity"),
            ("hyp", "hyperbolic"),
            ("zhipu", "zhipu"),
            ("cohere", "cohere"),
        ];
        for (name, id) in expect {
            assert_eq!(find(name).map(|p| p.id.as_ref()), Some(id), "{name}");
        }
    }

    #[test]
    fn anthropic_format_providers_match_their_documented_auth() {
        let auth = |id: &str| find(id).map(|p| (p.format, p.auth));
        assert_eq!(auth("minimax"), Some((Format::Anthropic, AuthStyle::Bearer)));
        assert_eq!(auth("minimax-cn"), Some((Format::Anthropic, AuthStyle::Bearer)));
        assert_eq!(auth("zai"), Some((Format::Anthropic, X_API_KEY)));
        assert_eq!(auth("kmca"), Some((Format::Anthropic, X_API_KEY)));
        assert_eq!(auth("glm"), Some((Format::OpenAiChat, AuthStyle::Bearer)));
        assert_eq!(find("minimax").map(|p| p.base_url.as_ref()), Some("https://api.minimax.io/anthropic/v1"));
        assert_eq!(find("zai-api").map(|p| p.base_url.as_ref()), Some("https://api.z.ai/api/paas/v4"));
    }

    #[test]
    fn base_url_plus_format_path_is_the_documented_endpoint() {
        let url = |id: &str| find(id).map(|p| format!("{}{}", p.base_url, p.upstream_path("m", false)));
        assert_eq!(url("cohere").as_deref(), Some("https://api.cohere.com/compatibility/v1/chat/completions"));
        assert_eq!(url("zai").as_deref(), Some("https://api.z.ai/api/anthropic/v1/messages"));
        assert_eq!(url("deepinfra").as_deref(), Some("https://api.deepinfra.com/v1/openai/chat/completions"));
        assert_eq!(url("kmca").as_deref(), Some("https://api.kimi.com/coding/v1/messages"));
    }

    /// Provider names that are also vendor prefixes inside model ids (`openai/gpt-oss-120b`). A bare
    /// name with such a prefix selects that provider, so no new provider may take a vendor's prefix
    /// (`meta-llama/…`, `featherless-ai/…` stay model ids, not providers).
    #[test]
    fn provider_names_do_not_shadow_other_vendor_prefixes() {
        const VENDOR_IS_PROVIDER: [&str; 6] = ["openai", "anthropic", "google", "deepseek", "nvidia", "moonshot"];
        for p in ALL {
            for (m, _) in p.models_with_kinds() {
                let Some((prefix, _)) = m.split_once('/') else { continue };
                if let Some(q) = find(prefix) {
                    assert!(
                        q.id == p.id
                            || VENDOR_IS_PROVIDER.contains(&q.id.as_ref())
                            || VENDOR_IS_PROVIDER.contains(&prefix),
                        "{}: {m} selects {}",
                        p.id,
                        q.id
                    );
                }
            }
        }
    }

    fn all_names() -> Vec<(&'static str, &'static str)> {
        ALL.iter()
            .flat_map(|p| {
                std::iter::once(p.id.as_ref()).chain(p.aliases.iter().copied()).map(move |n| (n, p.id.as_ref()))
            })
            .collect()
    }

    proptest! {
        /// Every id and alias finds its own provider whatever its letter case.
        #[test]
        fn every_name_finds_its_provider_in_any_case(idx in any::<prop::sample::Index>(), mask in any::<u64>()) {
            let names = all_names();
            let (name, id) = names[idx.index(names.len())];
            let mixed: String = name
                .chars()
                .enumerate()
                .map(|(i, c)| if mask >> (i % 64) & 1 == 1 { c.to_ascii_uppercase() } else { c })
                .collect();
            prop_assert_eq!(find(&mixed).map(|p| p.id.as_ref()), Some(id));
        }
    }
}
