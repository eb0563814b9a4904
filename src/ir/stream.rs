//! Streamed answers as a sequence of events.
//!
//! A decoder (upstream wire format → events) must emit, in this order:
//! `Start` once, first; then any of `Text`, `Thinking`, `ThinkingSignature`, `RedactedThinking`,
//! `ToolCallStart`/`ToolCallArgs`, `Usage` (cumulative, the last one counts); then `Finish` once when
//! the upstream says why it stopped. If the upstream reports an error, or the stream ends without a
//! finish, the decoder emits `Error` instead (from `finish()` for the cut-off case).
//!
//! An encoder (events → client wire format) must always close its stream properly: on `Finish`
//! (plus `finish()`) with the format's normal ending, on `Error` with the format's error event.
//! Encoders may hold `Finish`/`Usage` back until `finish()` because formats order them differently.

use crate::error::ErrorKind;

use super::{FinishReason, IrUsage};

#[derive(Debug, Clone, PartialEq)]
pub enum IrEvent {
    /// The answer begins. `id`/`model` are the upstream's (may be empty).
    Start {
        id: String,
        model: String,
    },
    Text(String),
    Thinking(String),
    /// The signature of the thinking block just streamed.
    ThinkingSignature(String),
    RedactedThinking(String),
    /// Tool call number `index` (0-based, in order of appearance) begins.
    ToolCallStart {
        index: usize,
        id: String,
        name: String,
    },
    /// A fragment of tool call `index`'s JSON arguments.
    ToolCallArgs {
        index: usize,
        delta: String,
    },
    Usage(IrUsage),
    Finish(FinishReason),
    Error(StreamError),
}

#[derive(Debug, Clone, PartialEq)]
pub struct StreamError {
    pub kind: ErrorKind,
    /// The HTTP status this error would have had before streaming began.
    pub status: u16,
    pub message: String,
}
