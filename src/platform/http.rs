//! Small helpers for building responses and reading bodies safely.

use super::promise::settled;
use super::upstream_fetch::{body_reader, read_chunk};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::formats::Format;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::{Headers, Response};

/// A client's request as handlers read it: the runtime's `Request` itself. `worker::Request` wraps
/// the same object, but building one reads its `cf` property, which the runtime builds as a fresh
/// JS object on every read (~60 µs a request by CPU profile); the client API never needs it, so
/// `/v1` takes the raw request and only the other routes build a `worker::Request`.
pub trait Incoming {
    fn raw(&self) -> &web_sys::Request;
}

impl Incoming for web_sys::Request {
    fn raw(&self) -> &web_sys::Request {
        self
    }
}

impl Incoming for worker::Request {
    fn raw(&self) -> &web_sys::Request {
        self.inner()
    }
}

/// The path of a serialized URL (what `Request.url` gives): from the first `/` after the host to
/// `?` or `#`, as `worker::Request::path` has it.
pub fn url_path(url: &str) -> &str {
    let rest = url.find("://").map_or(url, |i| &url[i + 3..]);
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

pub fn json_response(status: u16, body: &serde_json::Value) -> worker::Result<Response> {
    with_json_type(Response::ok(body.to_string())?.with_status(status))
}

fn with_json_type(resp: Response) -> worker::Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    Ok(resp.with_headers(headers))
}

/// Renders `err` in the client's format, with `Retry-After` and `Allow` when the error carries them.
pub fn error_response(format: Format, err: &GatewayError) -> worker::Result<Response> {
    if err.kind == ErrorKind::Internal {
        worker::console_error!("internal error: {}", err.message);
    }
    let resp = with_json_type(Response::ok(format.render_error(err))?.with_status(err.status))?;
    if let Some(secs) = err.retry_after_secs {
        resp.headers().set("retry-after", &secs.to_string())?;
    }
    if let Some(methods) = &err.allow {
        resp.headers().set("allow", methods)?;
    }
    Ok(resp)
}

pub fn header(req: &impl Incoming, name: &str) -> Option<String> {
    req.raw().headers().get(name).ok().flatten()
}

/// Reads the body, refusing more than `limit` bytes: checked on `Content-Length` when there is one,
/// otherwise while reading, so a chunked upload cannot grow past it either.
pub async fn read_body(req: &impl Incoming, limit: u64) -> Result<Vec<u8>> {
    let too_large = || {
        GatewayError::new(ErrorKind::PayloadTooLarge, format!("The request body is larger than {limit} bytes."))
            .with_code("request_too_large")
    };
    let unreadable = |e: JsValue| {
        let why = e.as_string().or_else(|| js_sys::Error::from(e).message().as_string()).unwrap_or_default();
        GatewayError::invalid_request(format!("Could not read the request body: {why}"))
    };
    let raw = req.raw();
    if raw.body().is_none() {
        return Ok(Vec::new());
    }
    if let Some(len) = header(req, "content-length").and_then(|v| v.parse::<u64>().ok()) {
        if len > limit {
            return Err(too_large());
        }
        // The runtime holds the body to its declared length, so it is taken in one read: one
        // promise, where a stream reader costs a read per chunk, an end read and a lock release
        // (about a fifth of a passthrough request's CPU).
        let buf = settled(&raw.array_buffer().map_err(unreadable)?).await.map_err(unreadable)?;
        let body = js_sys::Uint8Array::new(&buf).to_vec();
        return if body.len() as u64 > limit { Err(too_large()) } else { Ok(body) };
    }
    let Some(reader) = body_reader(raw.as_ref()) else { return Ok(Vec::new()) };
    let mut body = Vec::new();
    loop {
        let chunk = settled(&read_chunk(&reader)).await.map_err(unreadable)?;
        if chunk.is_null() {
            return Ok(body);
        }
        let chunk = js_sys::Uint8Array::new(&chunk);
        if body.len() as u64 + u64::from(chunk.length()) > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk.to_vec());
    }
}

/// Permissive CORS headers: `/v1` is authenticated by key, not by cookies, so any origin may call.
pub const CORS: [(&str, &str); 2] = [
    ("access-control-allow-origin", "*"),
    (
        "access-control-expose-headers",
        "x-omniroute-provider, x-omniroute-model, x-omniroute-connection, x-omniroute-attempts, retry-after, x-request-id, x-upstream-request-id, server-timing, x-omniroute-cache, x-omniroute-idempotent, x-omniroute-cost-saved",
    ),
];

/// Adds the [`CORS`] headers.
pub fn with_cors(resp: Response) -> Response {
    let h = resp.headers();
    for (name, value) in CORS {
        let _ = h.set(name, value);
    }
    resp
}

#[wasm_bindgen(inline_js = r#"
export function build_response(status, headers, body) {
  const h = new Headers();
  const list = headers.split("\n");
  for (let i = 0; i + 1 < list.length; i += 2) h.append(list[i], list[i + 1]);
  return new Response(body, { status, headers: h });
}
"#)]
extern "C" {
    #[wasm_bindgen(catch)]
    fn build_response(status: u16, headers: &str, body: &JsValue) -> std::result::Result<web_sys::Response, JsValue>;
}

/// Appends a header as "name\nvalue\n", the form the JS helpers take headers in (one string, one
/// crossing). A line break cannot be part of a header, and here it would split one into two, so it
/// is refused as `Headers.set` would refuse it.
pub fn push_header_line(out: &mut String, name: &str, value: &str) -> std::result::Result<(), ()> {
    if name.contains(['\n', '\r']) || value.contains(['\n', '\r']) {
        return Err(());
    }
    for part in [name, "\n", value, "\n"] {
        out.push_str(part);
    }
    Ok(())
}

/// A response built in one crossing into JS. Built from Rust, each header was a call of its own and
/// the `worker::Response` was copied into a new JS `Response` on the way out: ~110 µs of a
/// passthrough request by CPU profile. `body`: bytes, a `ReadableStream`, or null.
pub fn response(
    status: u16,
    headers: &[(String, String)],
    extra: &[(&str, &str)],
    body: &JsValue,
) -> Result<web_sys::Response> {
    let mut lines = String::with_capacity(512);
    let pairs = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).chain(extra.iter().copied());
    for (name, value) in pairs {
        push_header_line(&mut lines, name, value)
            .map_err(|_| GatewayError::internal(format!("bad answer header {name}: contains a line break")))?;
    }
    // These statuses may not carry a body (the constructor throws).
    let body = if matches!(status, 101 | 204 | 205 | 304) { &JsValue::NULL } else { body };
    build_response(status, &lines, body).map_err(|e| {
        let why = js_sys::Error::from(e).message().as_string().unwrap_or_default();
        GatewayError::internal(format!("could not build the response: {why}"))
    })
}

pub fn preflight() -> worker::Result<Response> {
    let resp = Response::empty()?.with_status(204);
    let h = resp.headers();
    h.set("access-control-allow-origin", "*")?;
    h.set("access-control-allow-methods", "GET, POST, PATCH, DELETE, OPTIONS")?;
    h.set(
        "access-control-allow-headers",
        "authorization, content-type, x-api-key, x-goog-api-key, anthropic-version, anthropic-beta, openai-beta, x-request-id, idempotency-key, x-omniroute-cache, x-omniroute-no-cache",
    )?;
    h.set("access-control-max-age", "86400")?;
    Ok(resp)
}
