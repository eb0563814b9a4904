//! Anthropic Messages (`POST /v1/messages`): <https://docs.anthropic.com/en/api/messages>, streaming
//! <https://docs.anthropic.com/en/docs/build-with-claude/streaming>, errors
//! <https://docs.anthropic.com/en/api/errors>. Spoken by Claude Code and the official Anthropic SDKs,
//! and by Anthropic-compatible upstreams (MiniMax, GLM, Kimi coding).
//!
//! Edge conventions shared by the files here: Anthropic `input_tokens` excludes cache reads and
//! writes (IR input includes them); tool-use ids must match `^[a-zA-Z0-9_-]+$` (`ir::ids::sanitize`);
//! every SSE frame carries `event: <type>` equal to `data.type` (the SDK dispatches on the name).

pub mod error;
pub mod request;
pub mod response;
pub mod stream_in;
pub mod stream_out;
