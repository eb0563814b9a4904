//! What an answer said about itself, read from its IR events or its whole body: the usage the
//! upstream reported, how much it generated (for an estimate when no usage came), and whether it
//! ended properly. The same reading serves translated answers (their decoder's events) and
//! same-format answers (a tap that decodes a copy of the bytes).

use crate::formats::{Format, StreamDecoder};
use crate::ir::{IrEvent, IrPart, IrResponse, IrUsage};
use crate::metering::TokenUsage;
use crate::sse::SseParser;

/// About four characters of text per token, as `ir::estimate` assumes for requests.
const CHARS_PER_TOKEN: u64 = 4;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// The last usage the upstream reported (counts are cumulative).
    pub usage: Option<IrUsage>,
    /// Characters of generated text, thinking and tool arguments.
    pub output_chars: u64,
    /// A finish reason arrived.
    pub finished: bool,
    /// An error event arrived (in-band, or the decoder's verdict on a cut stream).
    pub error: Option<String>,
}

impl Observed {
    pub fn see(&mut self, event: &IrEvent) {
        match event {
            IrEvent::Usage(u) => self.usage = Some(*u),
            IrEvent::Text(t) | IrEvent::Thinking(t) => self.output_chars += t.len() as u64,
            IrEvent::ToolCallArgs { delta, .. } => self.output_chars += delta.len() as u64,
            IrEvent::Finish(_) => self.finished = true,
            IrEvent::Error(e) => self.error = Some(e.message.clone()),
            _ => {}
        }
    }

    /// What a whole answer says of itself: its usage and how much it generated. It is finished.
    pub fn of_answer(answer: &IrResponse) -> Observed {
        let output_chars = answer
            .parts
            .iter()
            .map(|p| match p {
                IrPart::Text(t) | IrPart::Thinking { text: t, .. } => t.len() as u64,
                IrPart::ToolCall { arguments, .. } => arguments.len() as u64,
                _ => 0,
            })
            .sum();
        Observed { usage: answer.usage, output_chars, finished: true, error: None }
    }

    /// Whether the answer is whole: it finished and carried no error.
    pub fn complete(&self) -> bool {
        self.finished && self.error.is_none()
    }

    /// The upstream's counts, or an estimate (marked so) from the request's size and the text seen.
    pub fn tokens(&self, input_estimate: u64) -> TokenUsage {
        match self.usage {
            Some(u) => u.into(),
            None => TokenUsage {
                input: input_estimate,
                output: self.output_chars.div_ceil(CHARS_PER_TOKEN),
                estimated: true,
                ..TokenUsage::default()
            },
        }
    }
}

/// Reads a copy of a same-format answer, in the upstream's own format, without changing it.
pub struct Tap {
    format: Format,
    stream: Option<(SseParser, Box<dyn StreamDecoder>)>,
    /// A whole answer's bytes (parsed at the end), up to `MAX_WHOLE`.
    whole: Vec<u8>,
    observed: Observed,
    ended: bool,
    /// Bytes without events (audio): nothing to read, whole unless the connection broke.
    opaque: bool,
}

/// A whole answer larger than this is not parsed for usage (it is estimated instead).
const MAX_WHOLE: usize = 8 * 1024 * 1024;

/// Whether an SSE event's data may carry what the tap reads: usage, a finish, an error. Text
/// deltas (most of a stream) do not, and decoding each of them cost as much as translating the
/// stream; they are counted instead (about a token each, for an estimate). Decoders emit errors
/// only for error payloads and for a missing finish, so reading a subset of the events is safe.
///
/// One pass over the bytes, comparing only where a mark's first byte stands: `str::contains` per
/// mark built a substring searcher each time, ~4 µs an event by CPU profile (ten marks, every
/// event of a piped stream), more than the rest of the tap's reading.
pub fn may_matter(data: &str) -> bool {
    let b = data.as_bytes();
    (0..b.len()).any(|i| starts_a_mark(b[i]) && MARKS.iter().any(|m| m[0] == b[i] && b[i..].starts_with(m)))
}

const MARKS: [&[u8]; 10] = [
    b"usage",
    b"finish_reason\":\"",
    b"finish_reason\": \"",
    b"finishReason",
    b"stop",
    b"error",
    b"completed",
    b"incomplete",
    b"failed",
    b"[DONE]",
];

/// Whether `b` begins one of [`MARKS`] (a test keeps the two together). Compared in registers: a
/// lookup table derived from `MARKS` measured slower in the stream A/B (+64 ± 71 µs).
#[inline]
const fn starts_a_mark(b: u8) -> bool {
    matches!(b, b'u' | b'f' | b's' | b'e' | b'c' | b'i' | b'[')
}

/// Characters a skipped delta event stands for in an estimate (about one token).
const CHARS_PER_SKIPPED_EVENT: u64 = 4;

impl Tap {
    pub fn new(format: Format, stream: bool, id_seed: &str) -> Tap {
        let stream = stream.then(|| (SseParser::new(), format.decoder(id_seed)));
        Tap { format, stream, whole: Vec::new(), observed: Observed::default(), ended: false, opaque: false }
    }

    /// A tap on a body of plain bytes (speech's audio): it reports no usage, and the answer is
    /// whole when its connection ended cleanly.
    pub fn opaque() -> Tap {
        Tap { opaque: true, ..Tap::new(Format::OpenAiChat, false, "") }
    }

    /// Whether the body is made of events, so that an error event can end it.
    pub fn framed(&self) -> bool {
        !self.opaque
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.opaque {
            return;
        }
        if let Some((parser, decoder)) = &mut self.stream {
            for e in parser.feed(bytes) {
                if !may_matter(&e.data) {
                    self.observed.output_chars += CHARS_PER_SKIPPED_EVENT;
                    continue;
                }
                for ev in decoder.feed(&e) {
                    self.observed.see(&ev);
                }
            }
        } else if self.whole.len() + bytes.len() <= MAX_WHOLE {
            self.whole.extend_from_slice(bytes);
        } else {
            self.observed.output_chars += bytes.len() as u64;
        }
    }

    /// Like [`push`](Self::push), also returning the events the bytes completed (streams only).
    pub fn events(&mut self, bytes: &[u8]) -> Vec<IrEvent> {
        let Some((parser, decoder)) = &mut self.stream else {
            self.push(bytes);
            return Vec::new();
        };
        let events: Vec<IrEvent> = parser.feed(bytes).iter().flat_map(|e| decoder.feed(e)).collect();
        for ev in &events {
            self.observed.see(ev);
        }
        events
    }

    /// Events a reader of the bytes left out as not mattering (see [`may_matter`]).
    pub fn skipped(&mut self, events: u64) {
        self.observed.output_chars += events * CHARS_PER_SKIPPED_EVENT;
    }

    /// The body ended (or broke off: `error`). What it said.
    pub fn end(&mut self, error: Option<&str>) -> &Observed {
        if self.ended {
            return &self.observed;
        }
        self.ended = true;
        if let Some(e) = error {
            self.observed.error = Some(e.to_string());
        }
        if self.opaque {
            self.observed.finished = true;
            return &self.observed;
        }
        match &mut self.stream {
            Some((parser, decoder)) => {
                let tail: Vec<IrEvent> = parser.finish().iter().flat_map(|e| decoder.feed(e)).collect();
                for ev in tail.iter().chain(decoder.finish().iter()) {
                    self.observed.see(ev);
                }
            }
            None => {
                let parsed =
                    serde_json::from_slice(&self.whole).ok().and_then(|v| self.format.response_to_ir(&v, "").ok());
                match parsed {
                    Some(ir) => {
                        let seen = Observed::of_answer(&ir);
                        self.observed.usage = seen.usage;
                        self.observed.output_chars += seen.output_chars;
                        self.observed.finished = true;
                    }
                    None => {
                        self.observed.output_chars += self.whole.len() as u64;
                        self.observed.error.get_or_insert_with(|| "the answer could not be read".into());
                    }
                }
            }
        }
        &self.observed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CHAT_STREAM: &str = concat!(
        "data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"Hello there\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":3,\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\n",
        "data: [DONE]\n\n",
    );

    const ANTHROPIC_STREAM: &str = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{\"input_tokens\":20,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":7}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );

    #[test]
    fn reads_reported_usage_from_a_same_format_stream() {
        let mut tap = Tap::new(Format::OpenAiChat, true, "s");
        tap.push(CHAT_STREAM.as_bytes());
        let o = tap.end(None).clone();
        assert!(o.complete());
        let t = o.tokens(999);
        assert_eq!((t.input, t.output, t.cached, t.estimated), (11, 3, 4, false));

        let mut tap = Tap::new(Format::Anthropic, true, "s");
        tap.push(ANTHROPIC_STREAM.as_bytes());
        let t = tap.end(None).tokens(0);
        assert_eq!((t.input, t.output, t.estimated), (20, 7, false));
    }

    #[test]
    fn a_stream_cut_before_its_finish_is_incomplete_and_estimated_without_usage() {
        let cut = CHAT_STREAM.find("data: {\"choices\":[{\"delta\":{},").unwrap();
        let mut tap = Tap::new(Format::OpenAiChat, true, "s");
        tap.push(&CHAT_STREAM.as_bytes()[..cut]);
        let o = tap.end(None).clone();
        assert!(!o.complete());
        let t = o.tokens(50);
        // Text deltas are not decoded, only counted: two events, about a token each.
        assert_eq!((t.input, t.output, t.estimated), (50, 2, true));
    }

    #[test]
    fn whole_answers_are_parsed_at_the_end() {
        let body = br#"{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1}}"#;
        let mut tap = Tap::new(Format::OpenAiChat, false, "s");
        tap.push(&body[..10]);
        tap.push(&body[10..]);
        let o = tap.end(None).clone();
        assert!(o.complete());
        assert_eq!(o.tokens(0).input, 5);
        let mut broken = Tap::new(Format::OpenAiChat, false, "s");
        broken.push(&body[..40]);
        assert!(!broken.end(None).complete());
    }

    #[test]
    fn an_opaque_body_is_whole_unless_its_connection_broke() {
        let mut tap = Tap::opaque();
        tap.push(b"RIFF\x00\x01 not events");
        let o = tap.end(None).clone();
        assert!(o.complete() && o.usage.is_none() && !tap.framed());
        assert_eq!(o.tokens(0), TokenUsage { estimated: true, ..TokenUsage::default() });
        let mut cut = Tap::opaque();
        cut.push(b"RIFF");
        assert!(!cut.end(Some("reset")).complete());
    }

    #[test]
    fn every_mark_begins_with_a_byte_the_quick_test_admits() {
        assert!(MARKS.iter().all(|m| starts_a_mark(m[0])));
    }

    proptest! {
        /// The one-pass search finds a mark exactly where `contains` would, in any text made of
        /// marks, their pieces and delta-like filler.
        #[test]
        fn may_matter_is_contains_of_any_mark(parts in proptest::collection::vec(0usize..16, 0..12)) {
            const PIECES: [&str; 16] = ["usage", "usag", "finish_reason\":\"", "finish_reason\":null", "finishReason",
                "sto", "stop", "err", "error", "complet", "completed", "incomplete", "fail", "[DONE]", "{\"delta\":{\"content\":\"x\"}}", "é"];
            let text: String = parts.iter().map(|&i| PIECES[i]).collect();
            let expected = MARKS.iter().any(|m| text.contains(std::str::from_utf8(m).unwrap_or_default()));
            prop_assert_eq!(may_matter(&text), expected, "{}", text);
        }
    }

    proptest! {
        /// However the bytes are split, the tap reads the same usage; cut anywhere before the finish,
        /// the answer is never complete.
        #[test]
        fn chunking_never_changes_the_reading(cuts in proptest::collection::vec(0usize..ANTHROPIC_STREAM.len(), 0..8), stop in 0usize..ANTHROPIC_STREAM.len()) {
            let mut cuts = cuts;
            cuts.sort();
            let mut tap = Tap::new(Format::Anthropic, true, "s");
            let mut last = 0;
            for c in cuts { tap.push(&ANTHROPIC_STREAM.as_bytes()[last..c]); last = c; }
            tap.push(&ANTHROPIC_STREAM.as_bytes()[last..]);
            prop_assert_eq!(tap.end(None).tokens(0).output, 7);
            let finish_at = ANTHROPIC_STREAM.find("event: message_delta").unwrap();
            let mut cut = Tap::new(Format::Anthropic, true, "s");
            cut.push(&ANTHROPIC_STREAM.as_bytes()[..stop.min(finish_at)]);
            prop_assert!(!cut.end(None).complete());
        }
    }
}
