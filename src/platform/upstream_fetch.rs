//! Outbound calls to providers. The timeout covers the wait for the response headers only: once an
//! upstream starts answering, a long stream is allowed to run as long as it keeps flowing.

use crate::engine::plan::UpstreamCall;
use crate::error::{ErrorKind, GatewayError, Result};
use futures::future::{select, Either};
use std::time::Duration;
use wasm_bindgen::JsValue;
use worker::{AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, Response};

pub async fn send(call: &UpstreamCall, timeout_ms: u64) -> Result<Response> {
    let headers = Headers::new();
    for (k, v) in &call.headers {
        headers.set(k, v).map_err(|e| GatewayError::internal(format!("bad upstream header {k}: {e}")))?;
    }
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
    match outcome {
        Either::Left((Ok(resp), _)) => Ok(resp),
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
    }
}
