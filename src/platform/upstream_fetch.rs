//! Outbound calls to providers: the pipeline's `Upstream` port over `fetch`. The timeout covers the
//! wait for the response headers only: once an upstream starts answering, a long stream may run as
//! long as it keeps flowing.

use crate::engine::plan::UpstreamCall;
use crate::engine::ports::{Reply, Upstream, UpstreamBody};
use crate::error::{ErrorKind, GatewayError, Result};
use futures::StreamExt;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{ByteStream, Response, ResponseBody};

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

#[wasm_bindgen(inline_js = r#"
export function send_upstream(url, headers, body, timeoutMs) {
  const h = new Headers();
  const list = headers.split("\n");
  for (let i = 0; i + 1 < list.length; i += 2) h.set(list[i], list[i + 1]);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException("no response headers in time", "TimeoutError")), timeoutMs);
  // `body` is a view of wasm memory: copied before anything else runs.
  return fetch(url, { method: "POST", headers: h, body: body.slice(), signal: controller.signal })
    .finally(() => clearTimeout(timer));
}
export function response_header_lines(resp) {
  let out = "";
  for (const [k, v] of resp.headers) out += k + "\n" + v + "\n";
  return out;
}
"#)]
extern "C" {
    /// POSTs `body` to `url` with `headers` ("name\nvalue\nname\nvalue…"), aborting with a
    /// `TimeoutError` when no response headers arrived within `timeout_ms`.
    fn send_upstream(url: &str, headers: &str, body: &[u8], timeout_ms: f64) -> js_sys::Promise;
    /// A response's headers in the same "name\nvalue\n…" form.
    fn response_header_lines(resp: &web_sys::Response) -> String;
}

impl Upstream for FetchUpstream {
    type Body = FetchBody;

    /// One crossing into JS (`send_upstream`) sets up the headers, the abort controller, the timer
    /// and the fetch; done from Rust, each header, the `Request`, the timer's closure and the race
    /// between two futures crossed the boundary on their own, costing about as much CPU as the fetch.
    async fn send(&self, call: &UpstreamCall, timeout_ms: u64) -> Result<Reply<FetchBody>> {
        let mut lines = header_lines(&call.headers)?;
        push_line(&mut lines, &call.auth.0, call.auth.1.expose()).map_err(|_| {
            GatewayError::internal(format!("the credential of `{}` is not a valid header", call.connection_id))
        })?;
        let outcome = JsFuture::from(send_upstream(&call.url, &lines, &call.body, timeout_ms as f64)).await;
        match outcome {
            Ok(resp) => {
                let resp: web_sys::Response = resp.unchecked_into();
                let text = response_header_lines(&resp);
                let mut parts = text.split('\n');
                let mut headers = Vec::new();
                while let (Some(k), Some(v)) = (parts.next(), parts.next()) {
                    headers.push((k.to_string(), v.to_string()));
                }
                let status = resp.status();
                let body = FetchBody { response: Some(Response::from(resp)), stream: None };
                Ok(Reply { status, headers, body })
            }
            Err(e) if error_name(&e).as_deref() == Some("TimeoutError") => Err(GatewayError::new(
                ErrorKind::UpstreamTimeout,
                format!("Upstream `{}` sent no response within {timeout_ms} ms.", call.provider),
            )
            .with_code("upstream_timeout")),
            Err(e) => {
                Err(GatewayError::upstream(format!("Could not reach upstream `{}`: {}", call.provider, describe(&e)))
                    .with_code("upstream_unreachable"))
            }
        }
    }
}

/// The headers as one string for `send_upstream`. A line break cannot be part of a header, and
/// here it would split one header into two, so it is refused as `Headers.set` would refuse it.
fn header_lines(headers: &[(String, String)]) -> Result<String> {
    let mut out = String::with_capacity(headers.iter().map(|(k, v)| k.len() + v.len() + 2).sum::<usize>() + 256);
    for (k, v) in headers {
        push_line(&mut out, k, v)
            .map_err(|_| GatewayError::internal(format!("bad upstream header {k}: contains a line break")))?;
    }
    Ok(out)
}

fn push_line(out: &mut String, name: &str, value: &str) -> std::result::Result<(), ()> {
    if name.contains(['\n', '\r']) || value.contains(['\n', '\r']) {
        return Err(());
    }
    out.push_str(name);
    out.push('\n');
    out.push_str(value);
    out.push('\n');
    Ok(())
}

/// An error's `name` (a `DOMException` need not be an `Error` to `instanceof`).
fn error_name(e: &JsValue) -> Option<String> {
    js_sys::Reflect::get(e, &JsValue::from_str("name")).ok()?.as_string()
}

fn describe(e: &JsValue) -> String {
    match e.dyn_ref::<js_sys::Error>() {
        Some(err) => err.to_string().as_string().unwrap_or_else(|| "unknown error".into()),
        None => e.as_string().unwrap_or_else(|| "unknown error".into()),
    }
}
