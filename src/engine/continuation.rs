//! Mid-stream continuation: when a stream that already reached the client dies (a cut connection,
//! an in-band error, an end without its finish) and another attempt remains, the same client stream
//! goes on from that attempt. It is asked for the original request plus the partial answer, so the
//! client receives one complete answer. Opt-in (a combo's `continue_streams`, the tenant setting
//! `stream_continuation`) because the answer then comes from two models.
//!
//! What is prepared when the stream is committed lives here (the [`Plan`]: the request in the IR and
//! the next attempts with their credentials, so the writer needs only the `Upstream` port later), and
//! so does what the client was sent ([`Sent`]) and where a raw SSE frame ends ([`frame_end`]). The
//! stream writer (`relay::StreamWriter`) decides when to continue.

use super::plan::{self, Attempt, ClientRequest, UpstreamCall};
use super::ports::{Credentials, Upstream};
use crate::config::{ConnectionRecord, TenantSnapshot};
use crate::formats::Format;
use crate::ir::{EncodeCtx, IrEvent, IrMessage, IrPart, IrRequest, IrRole};
use crate::metering::Meter;
use crate::pricing::Price;
use crate::providers::ProviderSpec;
use crate::security::Secret;
use std::collections::VecDeque;

/// Continuations per request: one, so a storm of dying upstreams cannot stretch a request forever.
pub const MAX_CONTINUATIONS: u32 = 1;

/// Attempts made ready (credential fetched) for a continuation when a stream is committed.
const MAX_CANDIDATES: usize = 3;

/// What the continuing model is told after the partial answer (targets other than Anthropic, which
/// take the partial answer as a prefill instead).
pub const INSTRUCTION: &str = "Your previous answer was cut off. Continue it exactly where it stopped: \
do not repeat anything already written, add no preamble, start with the very next characters.";

/// Everything a continuation needs, prepared while the request's ports are at hand.
pub struct Plan {
    /// The client's request in the IR.
    request: IrRequest,
    client: Format,
    candidates: VecDeque<Candidate>,
    /// How the client's answer is presented (model name, ids, usage chunk).
    ctx: EncodeCtx,
    timeout_ms: u64,
    left: u32,
}

struct Candidate {
    /// Owned: the plan outlives the request's borrow of the snapshot (it rides in the stream).
    provider: ProviderSpec,
    model: String,
    connection: ConnectionRecord,
    credential: Secret,
    /// The tenant's price of this model, for the continuation leg's cost.
    price: Option<Price>,
}

/// A plan over the attempts `rest` (in order; those whose credential cannot be read are left out),
/// or `None` when there is nothing to continue with.
pub(crate) async fn prepare<'a, C: Credentials>(
    credentials: &C,
    snapshot: &TenantSnapshot,
    rest: impl Iterator<Item = &'a Attempt<'a>>,
    client: &ClientRequest,
    id_seed: &str,
    now_secs: i64,
    timeout_ms: u64,
) -> Option<Plan> {
    let request = plan::client_ir(client).ok()?;
    let mut candidates = VecDeque::new();
    for a in rest.take(MAX_CANDIDATES) {
        if let Ok(credential) = credentials.credential(a.connection).await {
            let (provider, model, connection) = (a.provider.clone(), a.model.to_string(), a.connection.clone());
            let price = snapshot.price(&provider.id, &model);
            candidates.push_back(Candidate { provider, model, connection, credential, price });
        }
    }
    if candidates.is_empty() {
        return None;
    }
    let ctx = EncodeCtx {
        model: request.model.clone(),
        id_seed: id_seed.to_string(),
        created: now_secs,
        include_usage: request.include_usage,
    };
    Some(Plan { request, client: client.format, candidates, ctx, timeout_ms, left: MAX_CONTINUATIONS })
}

impl Plan {
    /// A continuation may still be made.
    pub fn ready(&self) -> bool {
        self.left > 0 && !self.candidates.is_empty()
    }

    /// How the client's stream is encoded.
    pub fn ctx(&self) -> &EncodeCtx {
        &self.ctx
    }

    /// Spends the continuation: asks the remaining attempts in turn to continue after `partial`
    /// (the text the client got), each call counted in `meter`'s attempts, until one answers 2xx.
    pub(crate) async fn call<U: Upstream>(
        &mut self,
        upstream: &U,
        partial: &str,
        meter: &mut Meter,
    ) -> Option<(UpstreamCall, U::Body)> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        while let Some(c) = self.candidates.pop_front() {
            let request = request_after(&self.request, partial, c.provider.format == Format::Anthropic);
            let attempt = Attempt { provider: &c.provider, model: &c.model, connection: &c.connection };
            let built = plan::build_from_ir(
                &attempt,
                &request,
                self.client,
                &c.credential,
                &self.ctx.id_seed,
                self.ctx.created,
            );
            let Ok(call) = built else { continue };
            meter.update(|r| r.attempts += 1);
            match upstream.send(&call, self.timeout_ms).await {
                Ok(reply) if (200..300).contains(&reply.status) => {
                    meter.set_price(c.price);
                    return Some((call, reply.body));
                }
                _ => {}
            }
        }
        None
    }
}

/// The continuation request: the original conversation, then the partial answer as the assistant's
/// turn (appended to a turn the client itself prefilled), then — unless `prefill` — a user turn
/// asking to continue. A prefill is the form Anthropic models continue from; it must not end in
/// whitespace and cannot be combined with extended thinking, so both go. Without any partial text
/// the request is asked again as it was.
pub fn request_after(original: &IrRequest, partial: &str, prefill: bool) -> IrRequest {
    let mut ir = original.clone();
    ir.stream = true;
    let text = if prefill { partial.trim_end() } else { partial };
    if text.trim().is_empty() {
        return ir;
    }
    match ir.messages.last_mut() {
        Some(m) if m.role == IrRole::Assistant => match m.parts.last_mut() {
            Some(IrPart::Text(t)) => t.push_str(text),
            _ => m.parts.push(IrPart::Text(text.to_string())),
        },
        _ => ir.messages.push(IrMessage { role: IrRole::Assistant, parts: vec![IrPart::Text(text.to_string())] }),
    }
    if prefill {
        ir.reasoning = None;
    } else {
        ir.messages.push(IrMessage { role: IrRole::User, parts: vec![IrPart::Text(INSTRUCTION.to_string())] });
    }
    ir
}

/// What the client has been sent so far, as far as continuing is concerned.
#[derive(Debug, Default)]
pub struct Sent {
    pub text: String,
    /// A tool call began: its arguments cannot be continued reliably, so such a stream is not.
    pub tool_call: bool,
    pub finished: bool,
}

impl Sent {
    pub fn see(&mut self, event: &IrEvent) {
        match event {
            IrEvent::Text(t) => self.text.push_str(t),
            IrEvent::ToolCallStart { .. } => self.tool_call = true,
            IrEvent::Finish(_) => self.finished = true,
            _ => {}
        }
    }
}

/// Where the first complete SSE frame at or after `from` ends (just past its blank line), if one
/// does. Raw bytes reach the client frame by frame when a stream may be continued, so that a
/// continuation never lands in the middle of a frame.
pub fn frame_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 1 < buf.len() {
        match (buf[i], buf[i + 1]) {
            (b'\n', b'\n') | (b'\r', b'\r') => return Some(i + 2),
            (b'\r', b'\n') if buf[i + 2..].starts_with(b"\r\n") => return Some(i + 4),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chat(messages: serde_json::Value) -> IrRequest {
        Format::OpenAiChat.request_to_ir(&serde_json::json!({"model": "m", "messages": messages})).unwrap()
    }

    fn texts(ir: &IrRequest) -> Vec<(IrRole, String)> {
        let text = |m: &IrMessage| {
            m.parts.iter().filter_map(|p| if let IrPart::Text(t) = p { Some(t.as_str()) } else { None }).collect()
        };
        ir.messages.iter().map(|m| (m.role, text(m))).collect()
    }

    #[test]
    fn the_partial_answer_follows_the_conversation_with_an_instruction_or_as_a_prefill() {
        let original = chat(serde_json::json!([{"role": "user", "content": "count"}]));
        let asked = request_after(&original, "1, 2, ", false);
        assert_eq!(
            texts(&asked),
            [(IrRole::User, "count".into()), (IrRole::Assistant, "1, 2, ".into()), (IrRole::User, INSTRUCTION.into())]
        );
        assert!(asked.stream);
        let mut thinking = original.clone();
        thinking.reasoning = Some(crate::ir::IrReasoning { budget_tokens: Some(2048), ..Default::default() });
        let prefilled = request_after(&thinking, "1, 2, ", true);
        assert_eq!(texts(&prefilled), [(IrRole::User, "count".into()), (IrRole::Assistant, "1, 2,".into())]);
        assert_eq!(prefilled.reasoning, None);
        // The client's own prefill is extended, not followed by a second assistant turn.
        let own = chat(serde_json::json!([{"role": "user", "content": "json"}, {"role": "assistant", "content": "{"}]));
        assert_eq!(texts(&request_after(&own, "\"a\":", true))[1], (IrRole::Assistant, "{\"a\":".into()));
        // Nothing written yet: the request is asked again.
        assert_eq!(texts(&request_after(&original, " \n", true)), texts(&original));
    }

    #[test]
    fn frames_end_after_their_blank_line_whatever_the_line_ending() {
        assert_eq!(frame_end(b"data: a\n\ndata: b\n\n", 0), Some(9));
        assert_eq!(frame_end(b"data: a\n\ndata: b\n\n", 9), Some(18));
        assert_eq!(frame_end(b"data: a\r\n\r\nx", 0), Some(11));
        assert_eq!(frame_end(b"data: a\r\rx", 0), Some(9));
        assert_eq!(frame_end(b"data: a\n", 0), None);
        assert_eq!(frame_end(b"data: a\r\n\r", 0), None);
    }

    proptest! {
        /// However a stream is chunked, cutting it at frame ends as the bytes arrive gives the same
        /// frames, each complete, and loses nothing.
        #[test]
        fn framing_does_not_depend_on_chunking(
            frames in proptest::collection::vec(("[a-z :{}\"]{0,12}", 0usize..3), 1..6),
            cuts in proptest::collection::vec(0usize..200, 0..6),
        ) {
            let ending = ["\n\n", "\r\n\r\n", "\r\r"];
            let stream: String = frames.iter().map(|(d, e)| format!("data: {d}{}", ending[*e])).collect();
            let bytes = stream.as_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            cuts.sort();
            cuts.push(bytes.len());
            let (mut held, mut got, mut last) = (Vec::new(), Vec::new(), 0);
            for c in cuts {
                held.extend_from_slice(&bytes[last..c]);
                last = c;
                let mut start = 0;
                while let Some(end) = frame_end(&held, start) {
                    got.push(held[start..end].to_vec());
                    start = end;
                }
                held.drain(..start);
            }
            prop_assert!(held.is_empty());
            prop_assert_eq!(got.len(), frames.len());
            prop_assert_eq!(got.concat(), bytes.to_vec());
        }
    }
}
