//! A route template's `{name}` segments, captured from a request path.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params<'a>(Vec<(&'static str, &'a str)>);

impl<'a> Params<'a> {
    /// The captures when `path` fits `template` segment for segment; a capture is never empty.
    pub fn matching(template: &'static str, path: &'a str) -> Option<Params<'a>> {
        let mut wanted = template.split('/');
        let mut given = path.split('/');
        let mut captured = Vec::new();
        loop {
            match (wanted.next(), given.next()) {
                (None, None) => return Some(Params(captured)),
                (Some(w), Some(g)) => match w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                    Some(name) if !g.is_empty() => captured.push((name, g)),
                    Some(_) => return None,
                    None if w == g => {}
                    None => return None,
                },
                _ => return None,
            }
        }
    }

    /// How many segments were captured.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn captures_named_segments() {
        let p = Params::matching("/api/keys/{id}/usage", "/api/keys/k1/usage").unwrap();
        assert_eq!(p.get("id"), Some("k1"));
        assert_eq!(p.get("other"), None);
        assert!(Params::matching("/api/keys/{id}/usage", "/api/keys/k1").is_none());
        assert!(Params::matching("/api/keys", "/api/keys/k1").is_none());
        assert!(Params::matching("/api/keys/{id}", "/api/keys/").is_none());
    }

    proptest! {
        /// A template filled with any non-empty segments matches and gives those segments back.
        #[test]
        fn filled_templates_match(a in "[^/]{1,12}", b in "[^/]{1,12}") {
            let path = format!("/api/x/{a}/y/{b}");
            let p = Params::matching("/api/x/{first}/y/{second}", &path).unwrap();
            prop_assert_eq!(p.get("first"), Some(a.as_str()));
            prop_assert_eq!(p.get("second"), Some(b.as_str()));
        }

        /// Any path with a different segment count never matches.
        #[test]
        fn other_lengths_never_match(segs in proptest::collection::vec("[a-z]{1,4}", 0..8)) {
            let path = format!("/{}", segs.join("/"));
            prop_assume!(segs.len() != 3);
            let template = "/api/{a}/{b}";
            prop_assert!(Params::matching(template, &path).is_none());
        }
    }
}
