//! Outbound calls to providers: the pipeline's `Upstream` port over `fetch`. The timeout covers the
//! wait for the response headers only: once an upstream starts answering, a long stream may run as
//! long as it keeps flowing.

use super::http::push_header_line;
use super::promise::settled;
use crate::engine::plan::UpstreamCall;
use crate::engine::ports::{Reply, Upstream, UpstreamBody};
use crate::error::{ErrorKind, GatewayError, Result};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

pub struct FetchUpstream;

/// An upstream body: still the runtime's stream until someone reads it into wasm, or already read
/// whole by `send_upstream` (see [`FetchUpstream::send`]).
///
/// Read with the runtime's own calls (`arrayBuffer()`, one reader's `read()`), not through
/// `worker::Response`/`ByteStream`: those go through `wasm_streams`, which took and released a
/// reader lock around every read; measured by CPU profile, reading a whole answer that way cost
/// ~300 µs a request, a third of the gateway's own work on a passthrough.
pub struct FetchBody {
    response: Option<web_sys::Response>,
    reader: Option<JsValue>,
    /// The body read whole along with the headers (`Err`: it broke off while being read).
    whole: Option<std::result::Result<js_sys::Uint8Array, String>>,
}

impl FetchBody {
    /// The body as the JS stream it is, for piping it to the client without copying it into wasm.
    /// `None` once it was read from wasm (or when it is empty).
    pub fn into_js(mut self) -> Option<web_sys::ReadableStream> {
        match self.whole.take() {
            Some(Ok(bytes)) => Some(stream_of(&bytes)),
            Some(Err(_)) => None,
            None => self.response.take()?.body(),
        }
    }
}

impl Drop for FetchBody {
    /// A body dropped mid-way (the client went away, or the gateway moved on) stops the upstream's
    /// answer instead of leaving it to run on unread.
    fn drop(&mut self) {
        if let Some(reader) = &self.reader {
            cancel_reader(reader);
        }
    }
}

impl UpstreamBody for FetchBody {
    async fn bytes(mut self) -> Result<Vec<u8>> {
        if let Some(whole) = self.whole.take() {
            return whole.map(|b| b.to_vec()).map_err(GatewayError::upstream);
        }
        let Some(resp) = self.response.take() else { return Ok(Vec::new()) };
        let read = resp.array_buffer().map_err(|e| GatewayError::upstream(describe(&e)))?;
        let buf = settled(&read).await.map_err(|e| GatewayError::upstream(describe(&e)))?;
        Ok(js_sys::Uint8Array::new(&buf).to_vec())
    }

    async fn next_chunk(&mut self) -> Option<Result<Vec<u8>>> {
        if let Some(whole) = self.whole.take() {
            self.response = None;
            return match whole {
                Ok(b) if b.length() == 0 => None,
                Ok(b) => Some(Ok(b.to_vec())),
                Err(e) => Some(Err(GatewayError::upstream(e))),
            };
        }
        if self.reader.is_none() {
            self.reader = Some(body_reader(self.response.take()?.as_ref())?);
        }
        match settled(&read_chunk(self.reader.as_ref()?)).await {
            Ok(chunk) if chunk.is_null() => None,
            Ok(chunk) => Some(Ok(js_sys::Uint8Array::new(&chunk).to_vec())),
            Err(e) => Some(Err(GatewayError::upstream(describe(&e)))),
        }
    }
}

#[wasm_bindgen(inline_js = r#"
// The call, its answer's headers as "name\nvalue\n…" and, for an answer that is read whole anyway
// (`readWhole`: not a stream; or an error), its body: one promise, so wasm resumes once.
// No redirect is followed (`redirect: "manual"`): a 3xx comes back as the answer, and the gateway
// reports it (`upstream::map_error`). Following one would carry the credential headers and the prompt
// to whatever origin the upstream named, past the base-URL policy.
export function send_upstream(url, headers, body, timeoutMs, readWhole) {
  const h = new Headers();
  const list = headers.split("\n");
  for (let i = 0; i + 1 < list.length; i += 2) h.set(list[i], list[i + 1]);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException("no response headers in time", "TimeoutError")), timeoutMs);
  // `body` is a view of wasm memory: copied before anything else runs.
  return fetch(url, { method: "POST", headers: h, body: body.slice(), signal: controller.signal, redirect: "manual" }).then(
    (response) => {
      clearTimeout(timer);
      let lines = "";
      for (const [k, v] of response.headers) lines += k + "\n" + v + "\n";
      const reply = { response, lines, whole: undefined, failed: undefined };
      // (Not `response.body`: reading that getter builds a stream object, ~tens of µs.)
      if (!(readWhole || response.status >= 300)) return reply;
      return response.arrayBuffer().then(
        (b) => { reply.whole = new Uint8Array(b); return reply; },
        (e) => { reply.failed = String(e && e.message || e); return reply; });
    },
    (e) => { clearTimeout(timer); throw e; });
}
export function stream_of(bytes) {
  return new Response(bytes).body;
}
export function body_reader(message) {
  return message.body ? message.body.getReader() : undefined;
}
// The next piece of the body, or null at its end.
export async function read_chunk(reader) {
  const { value, done } = await reader.read();
  return done ? null : value;
}
export function cancel_reader(reader) {
  reader.cancel().catch(() => {});
}
"#)]
extern "C" {
    /// POSTs `body` to `url` with `headers` ("name\nvalue\nname\nvalue…"), aborting with a
    /// `TimeoutError` when no response headers arrived within `timeout_ms`. Resolves with a
    /// [`SentReply`].
    pub(super) fn send_upstream(
        url: &str,
        headers: &str,
        body: &[u8],
        timeout_ms: f64,
        read_whole: bool,
    ) -> js_sys::Promise;
    /// What `send_upstream` resolves with.
    pub(super) type SentReply;
    #[wasm_bindgen(method, getter)]
    pub(super) fn response(this: &SentReply) -> web_sys::Response;
    /// The answer's headers in the same "name\nvalue\n…" form.
    #[wasm_bindgen(method, getter)]
    fn lines(this: &SentReply) -> String;
    /// The body, when it was read whole.
    #[wasm_bindgen(method, getter)]
    fn whole(this: &SentReply) -> Option<js_sys::Uint8Array>;
    /// Why reading the whole body failed.
    #[wasm_bindgen(method, getter)]
    fn failed(this: &SentReply) -> Option<String>;
    fn stream_of(bytes: &js_sys::Uint8Array) -> web_sys::ReadableStream;
    /// A reader of a `Request`'s or `Response`'s body (`undefined` when it has none).
    pub(super) fn body_reader(message: &JsValue) -> Option<JsValue>;
    /// Resolves with the reader's next piece (a `Uint8Array`), or `null` at the end.
    pub(super) fn read_chunk(reader: &JsValue) -> js_sys::Promise;
    fn cancel_reader(reader: &JsValue);
}

impl Upstream for FetchUpstream {
    type Body = FetchBody;

    /// One crossing into JS (`send_upstream`) sets up the headers, the abort controller, the timer
    /// and the fetch; done from Rust, each header, the `Request`, the timer's closure and the race
    /// between two futures crossed the boundary on their own, costing about as much CPU as the fetch.
    /// An answer that will be read whole (not a stream, or an error) comes back with its body and
    /// headers in the same promise: one resumption of wasm instead of three crossings.
    async fn send(&self, call: &UpstreamCall, timeout_ms: u64) -> Result<Reply<FetchBody>> {
        let mut lines = header_lines(&call.headers)?;
        push_header_line(&mut lines, &call.auth.0, call.auth.1.expose()).map_err(|_| {
            GatewayError::internal(format!("the credential of `{}` is not a valid header", call.connection_id))
        })?;
        let sent = send_upstream(&call.url, &lines, &call.body, timeout_ms as f64, !call.stream);
        match settled(&sent).await {
            Ok(reply) => {
                let reply: SentReply = reply.unchecked_into();
                let resp = reply.response();
                let text = reply.lines();
                let mut parts = text.split('\n');
                let mut headers = Vec::new();
                while let (Some(k), Some(v)) = (parts.next(), parts.next()) {
                    headers.push((k.to_string(), v.to_string()));
                }
                let whole = match (reply.whole(), reply.failed()) {
                    (Some(bytes), _) => Some(Ok(bytes)),
                    (None, Some(failed)) => Some(Err(failed)),
                    (None, None) => None,
                };
                let status = resp.status();
                let body = FetchBody { response: Some(resp), reader: None, whole };
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

/// The headers as one string for `send_upstream` (see `http::push_header_line`).
fn header_lines(headers: &[(String, String)]) -> Result<String> {
    let mut out = String::with_capacity(headers.iter().map(|(k, v)| k.len() + v.len() + 2).sum::<usize>() + 256);
    for (k, v) in headers {
        push_header_line(&mut out, k, v)
            .map_err(|_| GatewayError::internal(format!("bad upstream header {k}: contains a line break")))?;
    }
    Ok(out)
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
