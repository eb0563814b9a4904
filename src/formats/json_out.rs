//! Hand-assembled JSON for the frames sent once per token. Building a `serde_json::Value` tree for
//! each delta and serialising it was most of the cost of translated streaming (see `benches/`), so
//! the hot frames are written as text with only their variable strings escaped here.

/// `s` as a JSON string literal, quotes included.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the text, the literal parses back to it.
        #[test]
        fn round_trips_through_a_json_parser(s in any::<String>()) {
            let back: String = serde_json::from_str(&string(&s)).unwrap();
            prop_assert_eq!(back, s);
        }
    }
}
