//! Outbound calls to providers: the pipeline's `Upstream` port over `fetch`. The timeout covers the
//! wait for the response headers only: once an upstream starts answering, a long stream may run as
//! long as it keeps flowing.

use crate::engine::plan::UpstreamCall;
use crate::engine::ports::{Reply, Upstream, UpstreamBody};
use crate::error::{ErrorKind, GatewayError, Result};
use futures::future::{select, Either};
use futures::StreamExt;
use std::time::Duration;
use wasm_bindgen::JsValue;
use worker::{
    AbortController, ByteStream, Delay, Fetch, Headers, Method, Request, RequestInit, Response, ResponseBody,
};

pub struct FetchUpstream;

/// An upstream body: still the runtime's stream until someone reads it into wasm.
pub struct FetchBody {
    response: Option<Response>,
    stream: Option<ByteStream>,
}

impl FetchBody {
    /// The body as the JS stream it is, for piping it to the client without copying it into wasm.
    /// `None` once it was read from wasm (or when it is empty).
    pub fn into_js(mut self) -> Option<web_sys::ReadableStream> {
        match self.response.take()?.into_parts().1 {
            ResponseBody::Stream(s) => Some(s),
            ResponseBody::Empty | ResponseBody::Body(_) => None,
        }
    }
}

impl UpstreamBody for FetchBody {
    async fn bytes(mut self) -> Result<Vec<u8>> {
        match self.response.take() {
            Some(mut r) => r.bytes().await.map_err(|e| GatewayError::upstream(e.to_string())),
            None => Ok(Vec::new()),
        }
    }

    async fn next_chunk(&mut self) -> Option<Result<Vec<u8>>> {
        if self.stream.is_none() {
            let mut r = self.response.take()?;
            self.stream = Some(r.stream().ok()?);
        }
        let chunk = self.stream.as_mut()?.next().await?;
        Some(chunk.map_err(|e| GatewayError::upstream(e.to_string())))
    }
}

impl Upstream for FetchUpstream {
    type Body = FetchBody;

    async fn send(&self, call: &UpstreamCall, timeout_ms: u64) -> Result<Reply<FetchBody>> {
        let headers = Headers::new();
        for (k, v) in &call.headers {
            headers.set(k, v).map_err(|e| GatewayError::internal(format!("bad upstream header {k}: {e}")))?;
        }
        headers.set(&call.auth.0, call.auth.1.expose()).map_err(|_| {
            GatewayError::internal(format!("the credential of `{}` is not a valid header", call.connection_id))
        })?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(JsValue::from(js_sys::Uint8Array::from(call.body.as_slice()))));
        let req = Request::new_with_init(&call.url, &init)
            .map_err(|e| GatewayError::upstream(format!("Invalid upstream URL for `{}`: {e}", call.provider)))?;

        let controller = AbortController::default();
        let signal = controller.signal();
        let fetch = Fetch::Request(req);
        let sending = Box::pin(fetch.send_with_signal(&signal));
        let timeout = Delay::from(Duration::from_millis(timeout_ms));
        let outcome = select(sending, timeout).await;
        let reply = match outcome {
            Either::Left((Ok(resp), _)) => {
                let headers = resp.headers().entries().collect();
                Ok(Reply {
                    status: resp.status_code(),
                    headers,
                    body: FetchBody { response: Some(resp), stream: None },
                })
            }
            Either::Left((Err(e), _)) => {
                Err(GatewayError::upstream(format!("Could not reach upstream `{}`: {e}", call.provider))
                    .with_code("upstream_unreachable"))
            }
            Either::Right(_) => {
                controller.abort();
                Err(GatewayError::new(
                    ErrorKind::UpstreamTimeout,
                    format!("Upstream `{}` sent no response within {timeout_ms} ms.", call.provider),
                )
                .with_code("upstream_timeout"))
            }
        };
        reply
    }
}
