//! OpenAI Responses (`POST /v1/responses`): <https://platform.openai.com/docs/api-reference/responses>.
//!
//! The gateway is stateless: it translates whole conversations (`input` items), never server-side
//! state (`previous_response_id`, `conversation` are rejected; `store` is always false upstream).
//! Only function tools are translated; built-in tools (`web_search`, `namespace`, `custom`, …) are
//! skipped on the way in, because no other format can run them.

pub mod error;
pub mod request;
pub mod response;
pub mod stream_in;
pub mod stream_out;
