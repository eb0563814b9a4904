//! Google Gemini `generateContent` and `streamGenerateContent?alt=sse` (Generative Language API):
//! <https://ai.google.dev/api/generate-content>.
//!
//! The model and the streaming choice live in the URL, not the body: `request::to_ir` leaves
//! `model` empty and `stream` false (the platform fills them), and `request::from_ir` writes neither.
//!
//! Thought signatures: IR has no signature field on tool calls, so a `thoughtSignature` found on a
//! non-thought part (a `functionCall`, or the closing text part) travels as an empty-text
//! [`IrPart::Thinking`](crate::ir::IrPart::Thinking) carrying only the signature, placed just before
//! that part. Going back out, such a carrier attaches its signature to the next part it precedes
//! (`request::from_ir`, `response::from_ir`, the stream encoder); a replayed `functionCall` without
//! one gets Google's documented escape hatch
//! `skip_thought_signature_validator`.

pub mod endpoint;
pub mod error;
pub mod request;
pub mod response;
pub mod schema;
pub mod stream_in;
pub mod stream_out;
pub mod wire;
