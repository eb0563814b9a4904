//! A plaintext secret that cannot be printed by accident: `Debug` and `Display` redact it, and
//! reading it takes an explicit `expose()`.

use std::fmt;

#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The plaintext, for the one place that must use it (encrypting, an outbound header).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The last four characters, for display (`…1234`).
    pub fn hint(&self) -> String {
        super::hint(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_plaintext() {
        let s = Secret::new("sk-live-abcdef123456");
        assert!(!format!("{s:?}").contains("abcdef"));
        assert!(!format!("{s}").contains("abcdef"));
        assert!(!format!("{:?}", Some(&s)).contains("abcdef"));
        assert_eq!(s.expose(), "sk-live-abcdef123456");
        assert_eq!(s.hint(), "…3456");
    }
}
