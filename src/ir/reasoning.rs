//! One table for reasoning effort ↔ thinking budget, used by every format so translations agree.
//! (Providers publish no canonical mapping; these follow the common gateway choices, clamped to
//! Anthropic's 1024-token minimum.)

/// Thinking budget (tokens) for an OpenAI-style effort; `None` for `none` or unknown values.
pub fn budget_for_effort(effort: &str) -> Option<u64> {
    match effort {
        "minimal" | "low" => Some(1024),
        "medium" => Some(8192),
        "high" => Some(24576),
        "xhigh" | "max" => Some(32768),
        _ => None,
    }
}

/// The effort closest to a thinking budget.
pub fn effort_for_budget(budget: u64) -> &'static str {
    match budget {
        0 => "none",
        1..=1024 => "low",
        1025..=8192 => "medium",
        8193..=24576 => "high",
        _ => "xhigh",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effort_and_budget_round_trip() {
        for effort in ["low", "medium", "high", "xhigh"] {
            assert_eq!(effort_for_budget(budget_for_effort(effort).unwrap()), effort);
        }
        assert_eq!(budget_for_effort("none"), None);
        assert_eq!(effort_for_budget(0), "none");
    }
}
