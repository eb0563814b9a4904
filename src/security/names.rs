//! Names people read (keys, connections, alias patterns and targets, model names): no control
//! characters (Unicode Cc: NUL, escape sequences) and no invisible format characters (Cf: the bidi
//! overrides and isolates of "Trojan Source", zero-width spaces and joiners, the BOM), nor line and
//! paragraph separators. They would show one name and be another, in the dashboard, logs and audit
//! rows. Admin input is refused ([`check_visible`]); what a sync push brings is cleaned
//! ([`visible`]), since a push is not refused for a name.

use crate::error::{GatewayError, Result};

/// Unicode's format characters (general category Cf, Unicode 15.1), as inclusive ranges.
const FORMAT: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

/// A control, format (bidi, zero-width) or line/paragraph separator character.
pub fn is_hidden(c: char) -> bool {
    let n = c as u32;
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') || FORMAT.iter().any(|&(lo, hi)| (lo..=hi).contains(&n))
}

/// Refuses (400, naming `param`) a name holding a hidden character, and says which (as `U+XXXX`:
/// printing it would hide it again).
pub fn check_visible(param: &str, value: &str) -> Result<()> {
    match value.chars().find(|&c| is_hidden(c)) {
        None => Ok(()),
        Some(c) => Err(GatewayError::invalid_request(format!(
            "`{param}` must not contain control or invisible formatting characters (it holds U+{:04X}).",
            c as u32
        ))
        .with_param(param)
        .with_code("invalid_characters")),
    }
}

/// `value` without its hidden characters.
pub fn visible(value: &str) -> String {
    value.chars().filter(|&c| !is_hidden(c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bidi_and_zero_width_characters_are_refused_and_named() {
        for (name, code) in [
            ("ci\0key", "U+0000"),
            ("admin\u{202E}gpj.exe", "U+202E"),
            ("a\u{2066}b", "U+2066"),
            ("zero\u{200B}width", "U+200B"),
            ("bom\u{FEFF}", "U+FEFF"),
            ("esc\u{1B}[31m", "U+001B"),
            ("line\u{2028}break", "U+2028"),
            ("tag\u{E0041}", "U+E0041"),
            ("del\u{7F}", "U+007F"),
        ] {
            let e = check_visible("name", name).unwrap_err();
            assert_eq!(
                (e.status, e.param.as_deref(), e.code.as_deref()),
                (400, Some("name"), Some("invalid_characters"))
            );
            assert!(e.message.contains(code), "{name:?}: {}", e.message);
        }
    }

    #[test]
    fn names_in_any_script_with_emoji_and_joined_emoji_pass() {
        for name in ["CI key", "Clé de production", "生产密钥", "ключ", "مفتاح", "🚀 deploy", "gpt-4o*"]
        {
            assert!(check_visible("name", name).is_ok(), "{name}");
        }
        assert_eq!(visible("ad\u{202E}min\0"), "admin");
    }

    proptest::proptest! {
        #[test]
        fn what_visible_leaves_is_always_accepted(s in "\\PC*|[\\x00-\\x1F\\u{200B}-\\u{202E}a-z]*") {
            proptest::prop_assert!(check_visible("name", &visible(&s)).is_ok());
        }
    }
}
