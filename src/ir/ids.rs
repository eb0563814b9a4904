//! Synthesised ids, for formats that have none (Gemini tool calls) or use another shape.

/// A tool-call id for call number `index` of a response, stable for a given seed.
pub fn tool_call_id(seed: &str, index: usize) -> String {
    let seed: String = seed.chars().filter(char::is_ascii_alphanumeric).take(16).collect();
    format!("call_{seed}{index}")
}

/// Keeps `[A-Za-z0-9_-]` (Anthropic's id alphabet), replacing anything else with `_`; never empty.
pub fn sanitize(id: &str) -> String {
    let s: String =
        id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    if s.is_empty() {
        "call_0".into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_safe() {
        assert_eq!(tool_call_id("abcdef", 2), "call_abcdef2");
        assert_eq!(tool_call_id("é-0123456789abcdefXYZ", 0), "call_0123456789abcdef0");
        assert_eq!(sanitize("call.1:x"), "call_1_x");
        assert_eq!(sanitize(""), "call_0");
    }
}
