//! How a successful upstream answer reaches the client — the pipeline's relay plan — and the pieces
//! that carry it to its end: the stream writer (the gateway writes every byte) and the watch (the
//! runtime pipes the bytes, the gateway reads a copy). Both meter the answer when it ends.

use super::continuation::{frame_end, Plan, Sent};
use super::ports::Upstream;
use super::translate::StreamTranslator;
use crate::error::GatewayError;
use crate::formats::{Format, StreamEncoder};
use crate::ir::{IrEvent, StreamError};
use crate::metering::observe::Tap;
use crate::metering::{Ending, Meter};

/// The relay plan.
pub enum Relay<B> {
    /// A whole answer ready to send: translated, same-format as it came, or an error in the
    /// client's format.
    Whole(Vec<u8>),
    /// A same-format stream the platform pipes to the client untouched (no copy into wasm on the
    /// client's path). A copy goes through `watch`, whose verdict (`PipeEnd`) says how the client's
    /// copy ends: closed, or closed after an error event.
    Pipe { body: B, watch: Watch },
    /// A stream the gateway writes: `first` (already read, while another attempt could still take
    /// over), then the rest of `body`, every chunk through `writer`.
    Stream { first: Vec<u8>, body: B, writer: StreamWriter },
}

/// Reads a copy of a piped stream: its usage, and whether it arrived whole.
pub struct Watch {
    tap: Tap,
    meter: Meter,
    status: u16,
    format: Format,
    provider: String,
}

/// How the client's copy of a piped answer ends.
#[derive(Debug, PartialEq)]
pub enum PipeEnd {
    /// It arrived whole.
    Close,
    /// It broke off: these bytes (the format's error event) end it, so the client's SDK raises an
    /// error instead of returning the partial answer as if it were whole.
    CloseWith(Vec<u8>),
    /// It broke off and has no events to say so (audio): the client's copy is aborted.
    Abort,
}

impl Watch {
    pub(crate) fn new(tap: Tap, meter: Meter, status: u16, format: Format, provider: &str) -> Watch {
        Watch { tap, meter, status, format, provider: provider.to_string() }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.tap.push(bytes);
        self.meter.capture(bytes);
    }

    /// Stream events the reader of the copy left out (text deltas): counted for an estimate.
    pub fn skipped(&mut self, events: u64) {
        self.tap.skipped(events);
    }

    /// The copy ended (`error`: it broke off). Records the request and says how the client's copy
    /// must end.
    pub fn end(mut self, error: Option<&str>) -> PipeEnd {
        let observed = self.tap.end(error).clone();
        let complete = observed.complete();
        let tokens = observed.tokens(self.meter.input_estimate);
        let code = (!complete).then_some("upstream_cut");
        self.meter.finish(Ending { status: self.status, error_code: code, tokens });
        match (complete, self.tap.framed()) {
            (true, _) => PipeEnd::Close,
            (false, true) => PipeEnd::CloseWith(cut_frame(self.format, &self.provider, error)),
            (false, false) => PipeEnd::Abort,
        }
    }
}

/// The error event that ends a stream whose upstream broke off.
fn cut_frame(format: Format, provider: &str, failure: Option<&str>) -> Vec<u8> {
    let msg = match failure {
        Some(m) => format!("Upstream `{provider}` failed mid-stream: {m}"),
        None => format!("Upstream `{provider}` stopped mid-stream without its proper ending."),
    };
    format.stream_error_frame(&GatewayError::upstream(msg)).into_bytes()
}

/// Writes the client's stream from the upstream's chunks: translated, or the same bytes while a
/// copy is read for usage and for the ending. With a continuation plan, a stream that dies goes on
/// from another attempt ([`StreamWriter::ended`]).
pub struct StreamWriter {
    mode: Mode,
    meter: Meter,
    status: u16,
    resume: Option<Box<Resume>>,
    /// The stream broke off and has no events to say so (audio): the platform aborts it.
    severed: bool,
}

enum Mode {
    Translate(StreamTranslator),
    Same { tap: Tap, format: Format, provider: String },
}

/// A stream that may continue from another attempt if it dies.
struct Resume {
    plan: Plan,
    sent: Sent,
    /// Same-format streams: an encoder of the client's format fed what the client got (its output
    /// dropped), so that a continuation writes on as if the gateway had written the stream from its
    /// start — no second message header, block indexes that follow on.
    shadow: Option<Box<dyn StreamEncoder>>,
    /// Same-format streams: the bytes of a frame not complete yet.
    held: Vec<u8>,
    /// The upstream reported an error in-band while a continuation could still take over: the error,
    /// held back from the client, and (same format) the raw bytes from its frame on.
    died: Option<(StreamError, Vec<u8>)>,
    /// A continuation is under way: its upstream's `Start` is not the client's.
    continued: bool,
}

impl Resume {
    fn can_continue(&self) -> bool {
        self.plan.ready() && !self.sent.tool_call && !self.sent.finished
    }

    /// The events that reach the client. An error while a continuation could take over stops the
    /// flow instead; a continuation's own start is dropped, and so is its thinking once the answer
    /// was past its own (the client would see a second reasoning phase inside the text).
    fn admit(&mut self, events: Vec<IrEvent>) -> Vec<IrEvent> {
        let mut kept = Vec::with_capacity(events.len());
        for e in events {
            if self.died.is_some() {
                break;
            }
            match &e {
                IrEvent::Start { .. } if self.continued => continue,
                IrEvent::Thinking(_) | IrEvent::ThinkingSignature(_) | IrEvent::RedactedThinking(_)
                    if self.continued && !self.sent.text.is_empty() =>
                {
                    continue
                }
                IrEvent::Error(err) if self.can_continue() => {
                    self.died = Some((err.clone(), Vec::new()));
                    break;
                }
                _ => {}
            }
            self.sent.see(&e);
            kept.push(e);
        }
        kept
    }

    /// Same-format bytes → the complete frames the client may have. A frame carrying an error is
    /// held back with everything after it.
    fn frames(&mut self, tap: &mut Tap, bytes: Vec<u8>) -> Vec<u8> {
        if let Some((_, raw)) = &mut self.died {
            raw.extend(bytes);
            return Vec::new();
        }
        let mut held = std::mem::take(&mut self.held);
        held.extend(bytes);
        let mut out = Vec::new();
        let mut start = 0;
        while let Some(end) = frame_end(&held, start) {
            let kept = self.admit(tap.events(&held[start..end]));
            if let Some((_, raw)) = &mut self.died {
                raw.extend_from_slice(&held[start..]);
                return out;
            }
            if let Some(shadow) = &mut self.shadow {
                kept.iter().for_each(|e| drop(shadow.encode(e)));
            }
            out.extend_from_slice(&held[start..end]);
            start = end;
        }
        held.drain(..start);
        self.held = held;
        out
    }
}

impl StreamWriter {
    pub(crate) fn translate(t: StreamTranslator, meter: Meter, status: u16) -> StreamWriter {
        StreamWriter { mode: Mode::Translate(t), meter, status, resume: None, severed: false }
    }

    pub(crate) fn same(tap: Tap, format: Format, provider: &str, meter: Meter, status: u16) -> StreamWriter {
        let mode = Mode::Same { tap, format, provider: provider.to_string() };
        StreamWriter { mode, meter, status, resume: None, severed: false }
    }

    /// Lets the stream continue from `plan`'s attempts if it dies. Not for Responses streams relayed
    /// as they came: their item ids are the upstream's, which a continuation could not carry on.
    pub(crate) fn continue_with(mut self, plan: Plan) -> StreamWriter {
        let shadow = match &self.mode {
            Mode::Translate(_) => None,
            Mode::Same { format: Format::OpenAiResponses, .. } => return self,
            Mode::Same { format, .. } => Some(format.encoder(plan.ctx())),
        };
        let (sent, held, died) = (Sent::default(), Vec::new(), None);
        self.resume = Some(Box::new(Resume { plan, sent, shadow, held, died, continued: false }));
        self
    }

    /// Upstream bytes → bytes for the client (possibly none yet).
    pub fn push(&mut self, bytes: Vec<u8>) -> Vec<u8> {
        let out = match (&mut self.mode, &mut self.resume) {
            (Mode::Translate(t), None) => t.push(&bytes),
            (Mode::Translate(t), Some(r)) => {
                let events = if r.died.is_some() { Vec::new() } else { t.decode(&bytes) };
                let kept = r.admit(events);
                t.encode(&kept)
            }
            (Mode::Same { tap, .. }, None) => {
                tap.push(&bytes);
                bytes
            }
            (Mode::Same { tap, .. }, Some(r)) => r.frames(tap, bytes),
        };
        self.meter.capture(&out);
        out
    }

    /// The upstream's body is over: it ended (`failure`: `None`) or its connection failed. When the
    /// answer is not complete and a continuation remains, the continuation call is made through
    /// `upstream` and its body comes back: the caller reads on from it through this writer. Else the
    /// client's stream is closed: with its proper ending, or — also when a cut connection looked like
    /// a clean end — with its format's error event, never silently truncated. Either way, the bytes
    /// to send first.
    pub async fn ended<U: Upstream>(&mut self, upstream: &U, failure: Option<&str>) -> (Vec<u8>, Option<U::Body>) {
        let mut out = Vec::new();
        if self.resume.as_ref().is_some_and(|r| r.can_continue()) {
            out = self.settle();
            if let Some(body) = self.continue_from(upstream).await {
                return (out, Some(body));
            }
        }
        out.extend(self.close(failure));
        (out, None)
    }

    /// The dying upstream's last events, and whether its answer was in fact complete.
    fn settle(&mut self) -> Vec<u8> {
        let Some(r) = &mut self.resume else { return Vec::new() };
        if r.died.is_some() {
            return Vec::new();
        }
        match &mut self.mode {
            Mode::Translate(t) => {
                let events = t.decode_end();
                let kept = r.admit(events);
                t.encode(&kept)
            }
            Mode::Same { tap, .. } => {
                // An unfinished last frame stays held: sent only if the stream is closed as it is.
                tap.push(&r.held);
                r.sent.finished |= tap.end(None).finished;
                Vec::new()
            }
        }
    }

    /// Makes the continuation call if one may be made; on success the writer decodes the new
    /// upstream from here on, into the client's encoder.
    async fn continue_from<U: Upstream>(&mut self, upstream: &U) -> Option<U::Body> {
        let r = self.resume.as_mut().filter(|r| r.can_continue())?;
        let (call, body) = r.plan.call(upstream, &r.sent.text, &mut self.meter).await?;
        // The dying leg counts at its own model's price, the continuation at its own.
        let tokens = match &mut self.mode {
            Mode::Translate(t) => t.observed().tokens(self.meter.input_estimate),
            Mode::Same { tap, .. } => tap.end(None).tokens(self.meter.input_estimate),
        };
        self.meter.bank(tokens);
        self.meter.update(|rec| {
            rec.continuations += 1;
            rec.provider = call.provider.to_string();
            rec.connection = call.connection_id.clone();
            rec.upstream_model = call.model.clone();
        });
        match (&mut self.mode, r.shadow.take()) {
            (Mode::Translate(t), _) => t.switch_upstream(call.upstream_format, &call.encode.id_seed),
            (Mode::Same { .. }, Some(shadow)) => {
                let t = StreamTranslator::continuing(call.upstream_format, shadow, &call.encode.id_seed);
                self.mode = Mode::Translate(t);
            }
            (Mode::Same { .. }, None) => return None,
        }
        r.held.clear();
        r.died = None;
        r.continued = true;
        Some(body)
    }

    /// After [`ended`](Self::ended): the stream broke off and, being plain bytes, cannot end with an
    /// error event; the platform must abort the client's stream rather than close it.
    pub fn severed(&self) -> bool {
        self.severed
    }

    fn close(&mut self, failure: Option<&str>) -> Vec<u8> {
        let (held, died) = match self.resume.as_mut() {
            Some(r) => (std::mem::take(&mut r.held), r.died.take()),
            None => (Vec::new(), None),
        };
        let (out, observed, complete) = match &mut self.mode {
            Mode::Translate(t) => {
                let out = match (died, failure) {
                    (Some((err, _)), _) => {
                        let mut out = t.encode(&[IrEvent::Error(err)]);
                        out.extend(t.end());
                        out
                    }
                    (None, Some(m)) => t.fail(m),
                    (None, None) => t.end(),
                };
                (out, t.observed().clone(), t.observed().complete())
            }
            Mode::Same { tap, format, provider } => {
                let mut out = held;
                out.extend(died.map(|(_, raw)| raw).unwrap_or_default());
                let observed = tap.end(failure).clone();
                // `failure` counts even when the tap had already been read to its end.
                let complete = observed.complete() && failure.is_none();
                match (complete, tap.framed()) {
                    (true, _) => {}
                    (false, true) => out.extend(cut_frame(*format, provider, failure)),
                    (false, false) => self.severed = true,
                }
                (out, observed, complete)
            }
        };
        let code = (!complete).then_some("upstream_cut");
        let tokens = observed.tokens(self.meter.input_estimate);
        self.meter.capture(&out);
        self.meter.finish(Ending { status: self.status, error_code: code, tokens });
        out
    }
}
