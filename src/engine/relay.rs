//! How a successful upstream answer reaches the client — the pipeline's relay plan — and the pieces
//! that carry it to its end: the stream writer (the gateway writes every byte) and the watch (the
//! runtime pipes the bytes, the gateway reads a copy). Both meter the answer when it ends.

use super::translate::StreamTranslator;
use crate::error::GatewayError;
use crate::formats::Format;
use crate::metering::observe::Tap;
use crate::metering::{Ending, Meter};

/// The relay plan.
pub enum Relay<B> {
    /// A whole answer ready to send: translated, or an error in the client's format.
    Whole(Vec<u8>),
    /// A same-format answer the platform pipes to the client untouched (no copy into wasm on the
    /// client's path). A copy goes through `watch`, whose verdict (`PipeEnd`) says how the client's
    /// copy ends: closed, closed after an error event, or aborted.
    Pipe { body: B, watch: Watch },
    /// A stream the gateway writes: `first` (already read, while another attempt could still take
    /// over), then the rest of `body`, every chunk through `writer`.
    Stream { first: Vec<u8>, body: B, writer: StreamWriter },
}

/// Reads a copy of a piped answer: its usage, and whether it arrived whole.
pub struct Watch {
    tap: Tap,
    meter: Meter,
    status: u16,
    format: Format,
    stream: bool,
    provider: String,
}

/// How the client's copy of a piped answer ends.
#[derive(Debug, PartialEq)]
pub enum PipeEnd {
    /// It arrived whole.
    Close,
    /// A stream broke off: these bytes (the format's error event) end it, so the client's SDK raises
    /// an error instead of returning the partial answer as if it were whole.
    CloseWith(Vec<u8>),
    /// A whole answer broke off: nothing can be appended to half a JSON document; abort.
    Abort,
}

impl Watch {
    pub(crate) fn new(tap: Tap, meter: Meter, status: u16, format: Format, stream: bool, provider: &str) -> Watch {
        Watch { tap, meter, status, format, stream, provider: provider.to_string() }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.tap.push(bytes);
        self.meter.capture(bytes);
    }

    /// The copy ended (`error`: it broke off). Records the request and says how the client's copy
    /// must end.
    pub fn end(mut self, error: Option<&str>) -> PipeEnd {
        let observed = self.tap.end(error).clone();
        let complete = observed.complete();
        let tokens = observed.tokens(self.meter.input_estimate);
        let code = (!complete).then_some("upstream_cut");
        self.meter.finish(Ending { status: self.status, error_code: code, tokens });
        match (complete, self.stream) {
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
/// copy is read for usage and for the ending.
pub struct StreamWriter {
    mode: Mode,
    meter: Meter,
    status: u16,
}

enum Mode {
    Translate(StreamTranslator),
    Same { tap: Tap, format: Format, provider: String },
}

impl StreamWriter {
    pub(crate) fn translate(t: StreamTranslator, meter: Meter, status: u16) -> StreamWriter {
        StreamWriter { mode: Mode::Translate(t), meter, status }
    }

    pub(crate) fn same(tap: Tap, format: Format, provider: &str, meter: Meter, status: u16) -> StreamWriter {
        StreamWriter { mode: Mode::Same { tap, format, provider: provider.to_string() }, meter, status }
    }

    /// Upstream bytes → bytes for the client (possibly none yet).
    pub fn push(&mut self, bytes: Vec<u8>) -> Vec<u8> {
        let out = match &mut self.mode {
            Mode::Translate(t) => t.push(&bytes),
            Mode::Same { tap, .. } => {
                tap.push(&bytes);
                bytes
            }
        };
        self.meter.capture(&out);
        out
    }

    /// The upstream connection failed: the client's stream ends with its format's error event.
    pub fn fail(&mut self, message: &str) -> Vec<u8> {
        self.close(Some(message))
    }

    /// The upstream's stream ended. If it ended without its proper ending (a cut connection can look
    /// like a clean end), the client gets an error event, never a silently truncated answer.
    pub fn end(&mut self) -> Vec<u8> {
        self.close(None)
    }

    fn close(&mut self, failure: Option<&str>) -> Vec<u8> {
        let (out, observed) = match &mut self.mode {
            Mode::Translate(t) => {
                let out = match failure {
                    Some(m) => t.fail(m),
                    None => t.end(),
                };
                (out, t.observed().clone())
            }
            Mode::Same { tap, format, provider } => {
                let observed = tap.end(failure).clone();
                let out = if observed.complete() { Vec::new() } else { cut_frame(*format, provider, failure) };
                (out, observed)
            }
        };
        let code = (!observed.complete()).then_some("upstream_cut");
        let tokens = observed.tokens(self.meter.input_estimate);
        self.meter.capture(&out);
        self.meter.finish(Ending { status: self.status, error_code: code, tokens });
        out
    }
}
