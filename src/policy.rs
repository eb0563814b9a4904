//! Request policies: tenant settings that change every conversation request before it is routed,
//! in the client's own format, so they hold whatever upstream serves it (translated or passed
//! through). Both are off by default.
//!
//! - A **system prompt** put before the client's own instructions (Chat: a first `system`
//!   message; Responses: `instructions`; Messages: `system`; Gemini: `systemInstruction`).
//! - A **thinking mode**:
//!   - `passthrough` leaves the request as the client sent it;
//!   - `off` asks for no reasoning;
//!   - `fixed` always reasons with `thinking_budget_tokens` (formats that take an effort get the
//!     effort of that budget, from the shared table in `ir::reasoning`);
//!   - `adaptive` lets the model decide how much to think at an effort: the client's own effort
//!     if it named one, else `thinking_effort`. That is Anthropic's adaptive thinking, OpenAI's
//!     `reasoning_effort`, and Gemini's dynamic budget (-1).

use crate::formats::Format;
use crate::ir::reasoning::{budget_for_effort, effort_for_budget};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThinkingMode {
    #[default]
    Passthrough,
    Off,
    Fixed,
    Adaptive,
}

/// The policies of a tenant, as its settings give them.
#[derive(Debug, Clone, Copy)]
pub struct Policies<'a> {
    pub system_prompt: &'a str,
    pub thinking: ThinkingMode,
    pub budget_tokens: u64,
    pub effort: &'a str,
}

impl Policies<'_> {
    pub fn is_noop(&self) -> bool {
        self.system_prompt.is_empty() && self.thinking == ThinkingMode::Passthrough
    }
}

/// Applies the policies to a request body in `format`; true if it changed.
pub fn apply(format: Format, body: &mut Value, p: &Policies) -> bool {
    let Some(obj) = body.as_object_mut() else { return false };
    let mut changed = false;
    if !p.system_prompt.is_empty() {
        prepend_system(format, obj, p.system_prompt);
        changed = true;
    }
    changed |= match p.thinking {
        ThinkingMode::Passthrough => false,
        ThinkingMode::Off => think_off(format, obj),
        ThinkingMode::Fixed => think_fixed(format, obj, p.budget_tokens),
        ThinkingMode::Adaptive => think_adaptive(format, obj, p.effort),
    };
    changed
}

fn prepend_system(format: Format, obj: &mut Map<String, Value>, prompt: &str) {
    match format {
        Format::OpenAiChat => {
            if let Some(Value::Array(messages)) = obj.get_mut("messages") {
                messages.insert(0, json!({"role": "system", "content": prompt}));
            }
        }
        Format::OpenAiResponses => {
            let joined = match obj.get("instructions").and_then(Value::as_str).filter(|s| !s.is_empty()) {
                Some(own) => format!("{prompt}\n\n{own}"),
                None => prompt.to_string(),
            };
            obj.insert("instructions".into(), Value::String(joined));
        }
        Format::Anthropic => {
            let system = match obj.remove("system") {
                Some(Value::String(own)) if !own.is_empty() => Value::String(format!("{prompt}\n\n{own}")),
                Some(Value::Array(mut blocks)) => {
                    blocks.insert(0, json!({"type": "text", "text": prompt}));
                    Value::Array(blocks)
                }
                _ => Value::String(prompt.to_string()),
            };
            obj.insert("system".into(), system);
        }
        Format::Gemini => {
            // Gemini accepts both spellings; keep the client's.
            let key = if obj.contains_key("system_instruction") { "system_instruction" } else { "systemInstruction" };
            let part = json!({"text": prompt});
            match obj.get_mut(key).and_then(|s| s.get_mut("parts")).and_then(Value::as_array_mut) {
                Some(parts) => parts.insert(0, part),
                None => {
                    obj.insert(key.into(), json!({"parts": [part]}));
                }
            }
        }
    }
}

fn think_off(format: Format, obj: &mut Map<String, Value>) -> bool {
    match format {
        Format::OpenAiChat => obj.remove("reasoning_effort").is_some() | obj.remove("reasoning").is_some(),
        Format::OpenAiResponses => obj.remove("reasoning").is_some(),
        Format::Anthropic => {
            let had = obj.remove("thinking").is_some();
            let effort = obj.get_mut("output_config").and_then(Value::as_object_mut).and_then(|o| o.remove("effort"));
            had | effort.is_some()
        }
        Format::Gemini => {
            gemini_thinking(obj, json!({"thinkingBudget": 0}));
            true
        }
    }
}

fn think_fixed(format: Format, obj: &mut Map<String, Value>, budget: u64) -> bool {
    let effort = effort_for_budget(budget);
    match format {
        Format::OpenAiChat => {
            obj.insert("reasoning_effort".into(), json!(effort));
        }
        Format::OpenAiResponses => set_responses_effort(obj, effort),
        Format::Anthropic => {
            obj.insert("thinking".into(), json!({"type": "enabled", "budget_tokens": budget}));
            // The budget must be below max_tokens, and thinking takes no sampling overrides.
            if obj.get("max_tokens").and_then(Value::as_u64).is_none_or(|m| m <= budget) {
                obj.insert("max_tokens".into(), json!(budget + 1024));
            }
            anthropic_thinking_compatible(obj);
        }
        Format::Gemini => gemini_thinking(obj, json!({"thinkingBudget": budget, "includeThoughts": true})),
    }
    true
}

fn think_adaptive(format: Format, obj: &mut Map<String, Value>, default_effort: &str) -> bool {
    let own = client_effort(format, obj);
    let effort = own.as_deref().unwrap_or(default_effort).to_string();
    match format {
        Format::OpenAiChat => {
            obj.insert("reasoning_effort".into(), json!(effort));
        }
        Format::OpenAiResponses => set_responses_effort(obj, &effort),
        Format::Anthropic => {
            obj.insert("thinking".into(), json!({"type": "adaptive"}));
            let config = obj.entry("output_config").or_insert_with(|| json!({}));
            if let Some(c) = config.as_object_mut() {
                c.insert("effort".into(), json!(effort));
            }
            anthropic_thinking_compatible(obj);
        }
        Format::Gemini => gemini_thinking(obj, json!({"thinkingBudget": -1, "includeThoughts": true})),
    }
    true
}

/// The effort a request asked for itself, if any (a budget counts as the effort it falls in).
fn client_effort(format: Format, obj: &Map<String, Value>) -> Option<String> {
    let s =
        |v: Option<&Value>| v.and_then(Value::as_str).filter(|e| budget_for_effort(e).is_some()).map(str::to_string);
    match format {
        Format::OpenAiChat => s(obj.get("reasoning_effort")),
        Format::OpenAiResponses => s(obj.get("reasoning").and_then(|r| r.get("effort"))),
        Format::Anthropic => s(obj.get("output_config").and_then(|o| o.get("effort"))).or_else(|| {
            let budget = obj.get("thinking")?.get("budget_tokens")?.as_u64()?;
            Some(effort_for_budget(budget).to_string())
        }),
        Format::Gemini => {
            let budget = obj.get("generationConfig")?.get("thinkingConfig")?.get("thinkingBudget")?.as_u64()?;
            (budget > 0).then(|| effort_for_budget(budget).to_string())
        }
    }
}

fn set_responses_effort(obj: &mut Map<String, Value>, effort: &str) {
    let reasoning = obj.entry("reasoning").or_insert_with(|| json!({}));
    match reasoning.as_object_mut() {
        Some(r) => {
            r.insert("effort".into(), json!(effort));
        }
        None => *reasoning = json!({"effort": effort}),
    }
}

fn gemini_thinking(obj: &mut Map<String, Value>, config: Value) {
    let generation = obj.entry("generationConfig").or_insert_with(|| json!({}));
    if !generation.is_object() {
        *generation = json!({});
    }
    if let Some(g) = generation.as_object_mut() {
        g.insert("thinkingConfig".into(), config);
    }
}

/// Anthropic refuses thinking with a changed temperature or top_k, or a forced tool choice.
fn anthropic_thinking_compatible(obj: &mut Map<String, Value>) {
    obj.remove("temperature");
    obj.remove("top_k");
    let forced = obj.get("tool_choice").and_then(|t| t.get("type")).and_then(Value::as_str);
    if matches!(forced, Some("any" | "tool")) {
        obj.insert("tool_choice".into(), json!({"type": "auto"}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(system: &str, thinking: ThinkingMode) -> Policies<'_> {
        Policies { system_prompt: system, thinking, budget_tokens: 4096, effort: "medium" }
    }

    fn applied(format: Format, body: Value, policies: &Policies) -> Value {
        let mut b = body;
        apply(format, &mut b, policies);
        b
    }

    #[test]
    fn nothing_changes_by_default() {
        let mut b = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "high"});
        let before = b.clone();
        assert!(!apply(Format::OpenAiChat, &mut b, &p("", ThinkingMode::Passthrough)));
        assert_eq!(b, before);
        assert!(p("", ThinkingMode::Passthrough).is_noop());
    }

    #[test]
    fn the_system_prompt_goes_before_the_clients_own_in_every_format() {
        let pol = p("Be brief.", ThinkingMode::Passthrough);
        let chat = applied(
            Format::OpenAiChat,
            json!({"messages": [{"role": "system", "content": "Own."}, {"role": "user", "content": "hi"}]}),
            &pol,
        );
        assert_eq!(chat["messages"][0], json!({"role": "system", "content": "Be brief."}));
        assert_eq!(chat["messages"][1]["content"], "Own.");
        let resp = applied(Format::OpenAiResponses, json!({"input": "hi", "instructions": "Own."}), &pol);
        assert_eq!(resp["instructions"], "Be brief.\n\nOwn.");
        assert_eq!(applied(Format::OpenAiResponses, json!({"input": "hi"}), &pol)["instructions"], "Be brief.");
        let msg = applied(Format::Anthropic, json!({"system": "Own.", "messages": []}), &pol);
        assert_eq!(msg["system"], "Be brief.\n\nOwn.");
        let blocks = applied(
            Format::Anthropic,
            json!({"system": [{"type": "text", "text": "Own.", "cache_control": {"type": "ephemeral"}}]}),
            &pol,
        );
        assert_eq!(blocks["system"][0], json!({"type": "text", "text": "Be brief."}));
        assert_eq!(
            blocks["system"][1]["cache_control"]["type"], "ephemeral",
            "the client's blocks keep their cache marks"
        );
        assert_eq!(applied(Format::Anthropic, json!({}), &pol)["system"], "Be brief.");
        let gem = applied(Format::Gemini, json!({"system_instruction": {"parts": [{"text": "Own."}]}}), &pol);
        assert_eq!(gem["system_instruction"]["parts"][0]["text"], "Be brief.");
        assert_eq!(gem["system_instruction"]["parts"][1]["text"], "Own.");
        assert_eq!(applied(Format::Gemini, json!({}), &pol)["systemInstruction"]["parts"][0]["text"], "Be brief.");
    }

    #[test]
    fn off_removes_every_request_for_reasoning() {
        let pol = p("", ThinkingMode::Off);
        assert_eq!(applied(Format::OpenAiChat, json!({"reasoning_effort": "high"}), &pol), json!({}));
        assert_eq!(applied(Format::OpenAiResponses, json!({"reasoning": {"effort": "low"}}), &pol), json!({}));
        let a = applied(
            Format::Anthropic,
            json!({"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}}),
            &pol,
        );
        assert_eq!(a, json!({"output_config": {}}));
        let g = applied(Format::Gemini, json!({"generationConfig": {"temperature": 0.2}}), &pol);
        assert_eq!(g["generationConfig"], json!({"temperature": 0.2, "thinkingConfig": {"thinkingBudget": 0}}));
    }

    #[test]
    fn fixed_sets_the_budget_or_its_effort_and_keeps_anthropic_requests_valid() {
        let pol = p("", ThinkingMode::Fixed);
        assert_eq!(applied(Format::OpenAiChat, json!({}), &pol)["reasoning_effort"], "medium");
        let r = applied(Format::OpenAiResponses, json!({"reasoning": {"summary": "auto"}}), &pol);
        assert_eq!(r["reasoning"], json!({"summary": "auto", "effort": "medium"}));
        let a = applied(
            Format::Anthropic,
            json!({"max_tokens": 1000, "temperature": 0, "tool_choice": {"type": "any"}}),
            &pol,
        );
        assert_eq!(a["thinking"], json!({"type": "enabled", "budget_tokens": 4096}));
        assert_eq!(a["max_tokens"], 5120, "the budget fits below max_tokens");
        assert!(a.get("temperature").is_none());
        assert_eq!(a["tool_choice"], json!({"type": "auto"}));
        assert_eq!(applied(Format::Anthropic, json!({"max_tokens": 64000}), &pol)["max_tokens"], 64000);
        let g = applied(Format::Gemini, json!({}), &pol);
        assert_eq!(g["generationConfig"]["thinkingConfig"]["thinkingBudget"], 4096);
    }

    #[test]
    fn adaptive_keeps_the_clients_effort_else_the_default() {
        let pol = p("", ThinkingMode::Adaptive);
        assert_eq!(applied(Format::OpenAiChat, json!({"reasoning_effort": "high"}), &pol)["reasoning_effort"], "high");
        assert_eq!(applied(Format::OpenAiChat, json!({}), &pol)["reasoning_effort"], "medium");
        let a = applied(Format::Anthropic, json!({"thinking": {"type": "enabled", "budget_tokens": 1024}}), &pol);
        assert_eq!(a["thinking"], json!({"type": "adaptive"}));
        assert_eq!(a["output_config"]["effort"], "low", "a budget counts as its effort");
        let g = applied(Format::Gemini, json!({}), &pol);
        assert_eq!(g["generationConfig"]["thinkingConfig"]["thinkingBudget"], -1);
        let r = applied(Format::OpenAiResponses, json!({"reasoning": {"effort": "bogus"}}), &pol);
        assert_eq!(r["reasoning"]["effort"], "medium", "an unknown effort is not the client's choice");
    }
}
