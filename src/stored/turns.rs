//! A WebSocket connection's own turns: every response it produced, `store: false` ones too, so its
//! next `response.create` continues them without a lookup (Codex sends `store: false` and then
//! only each turn's new input). Bounded: the oldest go first.

use super::conversation::StoredResponse;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub turns: usize,
    pub bytes: usize,
}

/// What one connection holds at most.
pub const BOUNDS: Bounds = Bounds { turns: 512, bytes: 16 << 20 };

#[derive(Debug)]
pub struct Turns {
    bounds: Bounds,
    /// Oldest first, each with its size.
    entries: Vec<(StoredResponse, usize)>,
    bytes: usize,
}

impl Default for Turns {
    fn default() -> Self {
        Turns::new(BOUNDS)
    }
}

impl Turns {
    pub fn new(bounds: Bounds) -> Turns {
        Turns { bounds, entries: Vec::new(), bytes: 0 }
    }

    pub fn keep(&mut self, turn: StoredResponse) {
        let size = serde_json::to_vec(&turn).map_or(0, |b| b.len());
        if let Some(i) = self.entries.iter().position(|(t, _)| t.id == turn.id) {
            self.bytes -= self.entries.remove(i).1;
        }
        self.entries.push((turn, size));
        self.bytes += size;
        while self.entries.len() > 1 && (self.entries.len() > self.bounds.turns || self.bytes > self.bounds.bytes) {
            self.bytes -= self.entries.remove(0).1;
        }
    }

    fn get(&self, id: &str) -> Option<&StoredResponse> {
        self.entries.iter().rev().map(|(t, _)| t).find(|t| t.id == id)
    }

    /// The part of `id`'s conversation this connection holds, oldest first, and the response before
    /// that part which it does not hold (kept before the connection, or evicted), if any. `None`
    /// when it does not hold `id`.
    pub fn chain(&self, id: &str) -> Option<(Vec<StoredResponse>, Option<String>)> {
        let mut out = vec![self.get(id)?.clone()];
        let mut earlier = None;
        while let Some(previous) = out.last().and_then(|t| t.previous.clone()) {
            match self.get(&previous) {
                Some(t) if out.len() <= self.entries.len() => out.push(t.clone()),
                Some(_) => return None, // a cycle (only ids reused by an upstream could make one)
                None => {
                    earlier = Some(previous);
                    break;
                }
            }
        }
        out.reverse();
        Some((out, earlier))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn turn(id: &str, previous: Option<&str>) -> StoredResponse {
        StoredResponse {
            id: id.into(),
            previous: previous.map(str::to_string),
            input: vec![json!("x".repeat(10))],
            response: json!({"id": id}),
        }
    }

    fn ids(chain: &[StoredResponse]) -> Vec<&str> {
        chain.iter().map(|t| t.id.as_str()).collect()
    }

    #[test]
    fn a_connection_follows_its_turns_back_to_where_it_came_in() {
        let mut turns = Turns::default();
        turns.keep(turn("b", Some("a")));
        turns.keep(turn("c", Some("b")));
        let (chain, earlier) = turns.chain("c").unwrap();
        assert_eq!((ids(&chain), earlier.as_deref()), (vec!["b", "c"], Some("a")));
        let (chain, earlier) = turns.chain("b").unwrap();
        assert_eq!((ids(&chain), earlier), (vec!["b"], Some("a".to_string())));
        assert!(turns.chain("a").is_none());
        turns.keep(turn("d", None));
        assert_eq!(turns.chain("d").unwrap(), (vec![turn("d", None)], None));
    }

    #[test]
    fn it_holds_at_most_its_bounds_oldest_out_first() {
        let size = serde_json::to_vec(&turn("a", None)).unwrap().len();
        let mut turns = Turns::new(Bounds { turns: 3, bytes: 10 * size });
        for id in ["a", "b", "c", "d"] {
            turns.keep(turn(id, None));
        }
        assert!(turns.chain("a").is_none());
        assert!(turns.chain("b").is_some() && turns.chain("d").is_some());
        let mut turns = Turns::new(Bounds { turns: 100, bytes: 2 * size });
        for id in ["a", "b", "c"] {
            turns.keep(turn(id, None));
        }
        assert_eq!((turns.entries.len(), turns.bytes), (2, 2 * size));
        turns.keep(turn("c", None));
        assert_eq!((turns.entries.len(), turns.bytes), (2, 2 * size), "the same id replaces");
    }
}
