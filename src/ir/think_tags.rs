//! Splits `<think>…</think>` out of model text (DeepSeek-R1-style models put their reasoning inline).
//! Works on a stream of fragments: a tag may be cut anywhere between two fragments. An unclosed
//! `<think>` makes the rest reasoning.

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Thinking(String),
}

#[derive(Debug, Default)]
pub struct ThinkSplitter {
    in_think: bool,
    /// The end of the last fragment when it may be the start of a tag.
    held: String,
}

impl ThinkSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn feed(&mut self, fragment: &str) -> Vec<Piece> {
        let mut text = std::mem::take(&mut self.held);
        text.push_str(fragment);
        let mut out = Vec::new();
        loop {
            let tag = if self.in_think { CLOSE } else { OPEN };
            if let Some(at) = text.find(tag) {
                self.push(&mut out, &text[..at]);
                text = text[at + tag.len()..].to_string();
                self.in_think = !self.in_think;
                continue;
            }
            // Hold back a tail that could be the beginning of the tag.
            let keep = (1..tag.len())
                .rev()
                .find(|n| {
                    text.len() >= *n
                        && text.is_char_boundary(text.len() - n)
                        && tag.starts_with(&text[text.len() - n..])
                })
                .unwrap_or(0);
            let cut = text.len() - keep;
            self.push(&mut out, &text[..cut]);
            self.held = text[cut..].to_string();
            return out;
        }
    }

    /// Flushes whatever was held back.
    pub fn finish(&mut self) -> Vec<Piece> {
        let held = std::mem::take(&mut self.held);
        let mut out = Vec::new();
        self.push(&mut out, &held);
        out
    }

    fn push(&self, out: &mut Vec<Piece>, s: &str) {
        if s.is_empty() {
            return;
        }
        out.push(if self.in_think { Piece::Thinking(s.to_string()) } else { Piece::Text(s.to_string()) });
    }
}

/// Splits a whole text at once.
pub fn split(text: &str) -> Vec<Piece> {
    let mut s = ThinkSplitter::new();
    let mut out = s.feed(text);
    out.extend(s.finish());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn joined(pieces: &[Piece]) -> (String, String) {
        let mut t = String::new();
        let mut k = String::new();
        for p in pieces {
            match p {
                Piece::Text(s) => t.push_str(s),
                Piece::Thinking(s) => k.push_str(s),
            }
        }
        (t, k)
    }

    #[test]
    fn extracts_reasoning() {
        assert_eq!(joined(&split("<think>plan</think>\n\nanswer")), ("\n\nanswer".into(), "plan".into()));
        assert_eq!(joined(&split("no tags here")), ("no tags here".into(), "".into()));
        assert_eq!(joined(&split("<think>never closed")), ("".into(), "never closed".into()));
        assert_eq!(joined(&split("a < b and <thin")), ("a < b and <thin".into(), "".into()));
    }

    proptest! {
        #[test]
        fn any_fragmentation_gives_the_same_split(cuts in proptest::collection::vec(0usize..40, 0..8)) {
            let text = "<think>step one, step two</think>The answer <b>is</b> 4.";
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(text.len())).collect();
            cuts.sort();
            let mut s = ThinkSplitter::new();
            let mut out = Vec::new();
            let mut last = 0;
            for c in cuts { out.extend(s.feed(&text[last..c])); last = c; }
            out.extend(s.feed(&text[last..]));
            out.extend(s.finish());
            prop_assert_eq!(joined(&out), ("The answer <b>is</b> 4.".to_string(), "step one, step two".to_string()));
        }
    }
}
