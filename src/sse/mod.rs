//! Server-sent events: an incremental parser (bytes in, events out) that accepts any split of the
//! byte stream, and the writer for frames. Follows the WHATWG event-stream rules: lines end in LF,
//! CRLF or CR; `:` lines are comments; one space after the colon is dropped; several `data:` lines
//! join with `\n`; an event is dispatched at a blank line (and only if it has data).

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` name, if the frame had one.
    pub event: Option<String>,
    pub data: String,
}

/// An incremental SSE parser.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of an incomplete line.
    line: Vec<u8>,
    /// A CR ended the last line; an LF right after it belongs to that line ending.
    after_cr: bool,
    event: Option<String>,
    data: Option<String>,
}

/// Never buffer more than this for one line: a stream that sends no line break is broken.
const MAX_LINE: usize = 8 * 1024 * 1024;

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns the events completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        let mut rest = bytes;
        // An LF right after a CR ends the same line; an empty chunk in between must not forget the CR.
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if rest.first() == Some(&b'\n') {
                rest = &rest[1..];
            }
        }
        // Whole runs between line breaks are copied at once: this is the hot loop of every stream.
        while let Some(pos) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.append(&rest[..pos]);
            let cr = rest[pos] == b'\r';
            rest = &rest[pos + 1..];
            self.end_line(&mut out);
            if cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
        }
        self.append(rest);
        out
    }

    fn append(&mut self, bytes: &[u8]) {
        let room = MAX_LINE.saturating_sub(self.line.len());
        self.line.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// Ends the stream: a final event without its blank line is still delivered.
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if !self.line.is_empty() {
            self.end_line(&mut out);
        }
        self.dispatch(&mut out);
        out
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        if self.line.is_empty() {
            self.dispatch(out);
            return;
        }
        // Taken and given back, so the line buffer's allocation is reused for every line.
        let buf = std::mem::take(&mut self.line);
        self.field(&String::from_utf8_lossy(&buf));
        self.line = buf;
        self.line.clear();
    }

    fn field(&mut self, line: &str) {
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            _ => {} // id, retry and unknown fields do not matter to the gateway
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if let Some(data) = self.data.take() {
            out.push(SseEvent { event, data });
        }
    }
}

/// One frame: `event: <name>\n` (if named) and `data: <data>\n\n`. `data` must be a single line
/// (JSON serialised without newlines is).
pub fn frame(event: Option<&str>, data: &str) -> String {
    let mut s = String::with_capacity(data.len() + event.map_or(0, |e| e.len() + 8) + 8);
    if let Some(e) = event {
        s.push_str("event: ");
        s.push_str(e);
        s.push('\n');
    }
    s.push_str("data: ");
    s.push_str(data);
    s.push_str("\n\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out: Vec<SseEvent> = chunks.iter().flat_map(|c| p.feed(c)).collect();
        out.extend(p.finish());
        out
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent { event: event.map(str::to_string), data: data.to_string() }
    }

    #[test]
    fn parses_named_and_unnamed_events() {
        let out = parse_all(&[b"event: message_start\ndata: {\"a\":1}\n\ndata: [DONE]\n\n"]);
        assert_eq!(out, vec![ev(Some("message_start"), "{\"a\":1}"), ev(None, "[DONE]")]);
    }

    #[test]
    fn handles_crlf_cr_comments_and_multiline_data() {
        let out = parse_all(&[b": keepalive\r\ndata: a\r\ndata:b\r\n\r\nevent: x\rdata: c\r\r"]);
        assert_eq!(out, vec![ev(None, "a\nb"), ev(Some("x"), "c")]);
    }

    #[test]
    fn events_without_data_are_not_dispatched_and_trailing_event_is_flushed() {
        let out = parse_all(&[b"event: ping\n\ndata: tail"]);
        assert_eq!(out, vec![ev(None, "tail")]);
    }

    #[test]
    fn splits_inside_crlf_do_not_create_blank_lines() {
        let out = parse_all(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]);
        assert_eq!(out, vec![ev(None, "a\nb")]);
    }

    #[test]
    fn an_empty_chunk_between_cr_and_lf_changes_nothing() {
        assert_eq!(parse_all(&[b"event: x\r", b"", b"\ndata: y\r\n\r\n"]), vec![ev(Some("x"), "y")]);
    }

    #[test]
    fn frames_round_trip() {
        let text = format!("{}{}", frame(Some("e"), "{\"x\":1}"), frame(None, "[DONE]"));
        assert_eq!(parse_all(&[text.as_bytes()]), vec![ev(Some("e"), "{\"x\":1}"), ev(None, "[DONE]")]);
    }

    proptest! {
        /// However the bytes are split, the events are the same.
        #[test]
        fn any_chunking_gives_the_same_events(
            events in proptest::collection::vec(("[a-z_]{0,8}", "[ -~]{0,40}"), 0..8),
            crlf in any::<bool>(),
            cuts in proptest::collection::vec(0usize..400, 0..12),
        ) {
            let nl = if crlf { "\r\n" } else { "\n" };
            let mut text = String::new();
            for (name, data) in &events {
                if !name.is_empty() { text.push_str(&format!("event: {name}{nl}")); }
                text.push_str(&format!("data: {data}{nl}{nl}"));
            }
            let bytes = text.as_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort();
            let mut chunks = Vec::new();
            let mut last = 0;
            for c in cuts { chunks.push(&bytes[last..c]); last = c; }
            chunks.push(&bytes[last..]);
            let whole = parse_all(&[bytes]);
            prop_assert_eq!(parse_all(&chunks), whole.clone());
            prop_assert_eq!(whole.len(), events.len());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut p = SseParser::new();
            let _ = p.feed(&bytes);
            let _ = p.finish();
        }
    }
}
