//! OpenAI Chat Completions: <https://platform.openai.com/docs/api-reference/chat>.

pub mod error;
pub mod models;
pub mod request;
pub mod response;
pub mod stream_in;
pub mod stream_out;
