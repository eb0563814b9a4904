//! OpenAI Responses (`POST /v1/responses`): <https://platform.openai.com/docs/api-reference/responses>.
//!
//! Translation works on whole conversations (`input` items): a `previous_response_id` has been
//! resolved into the input before (`engine::stored`, docs/responses.md); `conversation` is rejected;
//! `store` is always false upstream.
//! Only function tools are translated; built-in tools (`web_search`, `namespace`, `custom`, …) are
//! skipped on the way in, because no other format can run them.

pub mod error;
pub mod request;
pub mod response;
pub mod stream_in;
pub mod stream_out;
