//! Answers in the upstream's format → the client's format: whole bodies at once, streams as bytes
//! arrive. Pure: the platform hands in bytes and sends out what comes back.

use crate::error::{GatewayError, Result};
use crate::formats::{Format, StreamDecoder, StreamEncoder};
use crate::ir::{EncodeCtx, IrEvent};
use crate::metering::observe::Observed;
use crate::sse::SseParser;

/// A whole upstream answer → the client's whole answer, and what the answer said of itself
/// (usage, for metering).
pub fn whole(upstream: Format, client: Format, body: &[u8], ctx: &EncodeCtx) -> Result<(Vec<u8>, Observed)> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| GatewayError::upstream(format!("The upstream answer is not valid JSON: {e}")))?;
    let ir = upstream.response_to_ir(&value, &ctx.id_seed)?;
    let out =
        serde_json::to_vec(&client.response_from_ir(&ir, ctx)).map_err(|e| GatewayError::internal(e.to_string()))?;
    Ok((out, Observed::of_answer(&ir)))
}

/// Re-frames an upstream SSE stream for the client, chunk by chunk. Decoding and encoding are
/// also available apart, so that a continued stream can sort the events in between.
pub struct StreamTranslator {
    parser: SseParser,
    decoder: Box<dyn StreamDecoder>,
    encoder: Box<dyn StreamEncoder>,
    /// What the upstream's events said (usage, how it ended), for metering.
    observed: Observed,
    /// The decoder has given its verdict on the end of the upstream's stream.
    decoded: bool,
    ended: bool,
}

impl StreamTranslator {
    pub fn new(upstream: Format, client: Format, ctx: &EncodeCtx) -> Self {
        Self::continuing(upstream, client.encoder(ctx), &ctx.id_seed)
    }

    /// A translator onto an encoder that may already have written part of the client's stream.
    pub fn continuing(upstream: Format, encoder: Box<dyn StreamEncoder>, id_seed: &str) -> Self {
        StreamTranslator {
            parser: SseParser::new(),
            decoder: upstream.decoder(id_seed),
            encoder,
            observed: Observed::default(),
            decoded: false,
            ended: false,
        }
    }

    /// Another upstream (of format `upstream`) takes over the same client stream: the encoder
    /// carries on where it is, `observed` starts afresh for the new upstream.
    pub fn switch_upstream(&mut self, upstream: Format, id_seed: &str) {
        self.parser = SseParser::new();
        self.decoder = upstream.decoder(id_seed);
        self.observed = Observed::default();
        self.decoded = false;
    }

    /// Bytes from the upstream → bytes for the client (possibly none yet).
    pub fn push(&mut self, bytes: &[u8]) -> Vec<u8> {
        let events = self.decode(bytes);
        self.encode(&events)
    }

    /// The upstream connection failed mid-stream: close the client's stream with an error event.
    pub fn fail(&mut self, message: &str) -> Vec<u8> {
        if self.ended {
            return Vec::new();
        }
        let err = IrEvent::Error(crate::ir::StreamError {
            kind: crate::error::ErrorKind::Upstream,
            status: 502,
            message: format!("The upstream connection failed mid-stream: {message}"),
        });
        let mut out = self.encode(&[err]);
        out.extend(self.end());
        out
    }

    /// The upstream stream ended: flush and close the client's stream properly.
    pub fn end(&mut self) -> Vec<u8> {
        let events = self.decode_end();
        let mut out = self.encode(&events);
        if !self.ended {
            out.extend(self.encoder.finish().concat().into_bytes());
            self.ended = true;
        }
        out
    }

    pub fn observed(&self) -> &Observed {
        &self.observed
    }

    /// Upstream bytes → the events they complete.
    pub(crate) fn decode(&mut self, bytes: &[u8]) -> Vec<IrEvent> {
        if self.ended {
            return Vec::new();
        }
        self.parser.feed(bytes).iter().flat_map(|e| self.decoder.feed(e)).collect()
    }

    /// The upstream's stream is over: its last events, and the decoder's verdict (an `Error` when
    /// it ended without a finish). Once.
    pub(crate) fn decode_end(&mut self) -> Vec<IrEvent> {
        if self.decoded || self.ended {
            return Vec::new();
        }
        self.decoded = true;
        let mut events: Vec<IrEvent> = self.parser.finish().iter().flat_map(|e| self.decoder.feed(e)).collect();
        events.extend(self.decoder.finish());
        events
    }

    pub(crate) fn encode(&mut self, events: &[IrEvent]) -> Vec<u8> {
        if self.ended {
            return Vec::new();
        }
        let mut out = String::new();
        for e in events {
            self.observed.see(e);
            out.extend(self.encoder.encode(e));
        }
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ctx() -> EncodeCtx {
        EncodeCtx { model: "m".into(), id_seed: "s".into(), created: 1, include_usage: true }
    }

    const UPSTREAM: &str = concat!(
        "data: {\"id\":\"u\",\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n",
        "data: [DONE]\n\n",
    );

    fn client_text(out: &[u8]) -> (String, usize, bool) {
        let v = crate::engine::scripted::chat_view(out);
        (v.text, v.done, v.error)
    }

    proptest! {
        /// However the upstream's bytes are split, the client gets the same text and one ending.
        #[test]
        fn chunking_does_not_change_the_result(cuts in proptest::collection::vec(0usize..UPSTREAM.len(), 0..10)) {
            let mut cuts = cuts;
            cuts.sort();
            let mut t = StreamTranslator::new(Format::OpenAiChat, Format::OpenAiChat, &ctx());
            let mut out = Vec::new();
            let mut last = 0;
            for c in cuts { out.extend(t.push(&UPSTREAM.as_bytes()[last..c])); last = c; }
            out.extend(t.push(&UPSTREAM.as_bytes()[last..]));
            out.extend(t.end());
            prop_assert_eq!(client_text(&out), ("Hello".to_string(), 1, false));
        }

        /// A stream cut anywhere ends with exactly one ending: [DONE] after a finish, or an error.
        #[test]
        fn a_cut_stream_is_closed_properly(cut in 0usize..UPSTREAM.len()) {
            let mut t = StreamTranslator::new(Format::OpenAiChat, Format::OpenAiChat, &ctx());
            let mut out = t.push(&UPSTREAM.as_bytes()[..cut]);
            out.extend(t.fail("reset"));
            out.extend(t.end());
            let (_, done, error) = client_text(&out);
            prop_assert_eq!(done, 1);
            prop_assert!(error || cut >= UPSTREAM.len() - "data: [DONE]\n\n".len());
        }
    }

    #[test]
    fn whole_answers_are_translated() {
        let body = br#"{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}"#;
        let out: serde_json::Value =
            serde_json::from_slice(&whole(Format::OpenAiChat, Format::OpenAiChat, body, &ctx()).unwrap().0).unwrap();
        assert_eq!(out["choices"][0]["message"]["content"], "hi");
        assert_eq!(out["model"], "m");
        assert_eq!(whole(Format::OpenAiChat, Format::OpenAiChat, b"<html>", &ctx()).unwrap_err().status, 502);
    }
}
