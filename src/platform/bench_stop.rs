//! Elimination variants for the benchmark (`bench/phases.sh`), compiled only with the
//! `bench-phases` feature: a request carrying `x-oe-bench-stop: <phase>` ends right after that
//! phase, so the CPU of each phase is the difference between two stops measured in workerd (timers
//! do not advance inside a Worker's CPU burst, so the phases cannot time themselves).

use super::http::header;
use super::promise::settled;

/// Where a request stops: `entry` (the handler was called), `auth` (key and snapshot), `body` (the
/// request read), `forward` (the body sent upstream by the same JS helper the gateway uses, the
/// answer returned unread), `fwdpromise` (`forward` with the fetch's promise handed back to the runtime
/// instead of awaited in wasm), `hops` (`forward` after ten awaits of resolved promises: what one
/// await costs), `nometer` (the whole pipeline, its usage records dropped).
pub fn stop(req: &web_sys::Request) -> Option<String> {
    header(req, "x-oe-bench-stop")
}

/// The `auth` stop.
pub fn before_body(req: &web_sys::Request) -> worker::Result<Option<web_sys::Response>> {
    if stop(req).as_deref() == Some("auth") {
        return done().map(Some);
    }
    Ok(None)
}

/// The `body`, `forward`, `fwdpromise` and `hops` stops; `nometer` is noted for the usage sink.
pub async fn after_body(
    req: &web_sys::Request,
    body: &crate::error::Result<Vec<u8>>,
) -> worker::Result<Option<web_sys::Response>> {
    let stop = stop(req);
    match (stop.as_deref(), body) {
        (Some("body"), _) => done().map(Some),
        (Some("forward"), Ok(b)) => forward(req, b).await.map(Some),
        (Some("fwdpromise"), Ok(b)) => Ok(Some(forward_unawaited(req, b))),
        (Some("hops"), Ok(b)) => {
            hops(10).await;
            forward(req, b).await.map(Some)
        }
        (stop, _) => {
            NOMETER.set(stop == Some("nometer"));
            Ok(None)
        }
    }
}

pub fn done() -> worker::Result<web_sys::Response> {
    Ok(web_sys::Response::new_with_opt_str(Some("{}"))?)
}

/// The floor's work from inside the gateway: the read body forwarded to `x-oe-bench-upstream`, the
/// answer returned unread.
pub async fn forward(req: &web_sys::Request, body: &[u8]) -> worker::Result<web_sys::Response> {
    let reply: super::upstream_fetch::SentReply =
        wasm_bindgen::JsCast::unchecked_into(settled(&send(req, body)).await?);
    Ok(reply.response())
}

/// `forward` without awaiting the fetch in wasm: the handler answers with the JS promise of it.
pub fn forward_unawaited(req: &web_sys::Request, body: &[u8]) -> web_sys::Response {
    wasm_bindgen::JsCast::unchecked_into(response_of(&send(req, body)))
}

/// The floor's upstream call, by the gateway's own helper.
fn send(req: &web_sys::Request, body: &[u8]) -> js_sys::Promise {
    let url = format!("{}/chat/completions", header(req, "x-oe-bench-upstream").unwrap_or_default());
    let headers = "content-type\napplication/json\nauthorization\nBearer sk-bench\n";
    super::upstream_fetch::send_upstream(&url, headers, body, 30_000.0, false)
}

#[wasm_bindgen::prelude::wasm_bindgen(
    inline_js = "export function response_of(p) { return p.then((r) => r.response); }"
)]
extern "C" {
    fn response_of(sent: &js_sys::Promise) -> js_sys::Promise;
}

/// `hops`: what one await of a JS promise costs in wasm (resolved promises, awaited `n` times).
pub async fn hops(n: usize) {
    for _ in 0..n {
        let _ = settled(&js_sys::Promise::resolve(&wasm_bindgen::JsValue::NULL)).await;
    }
}

thread_local! {
    /// Set per request by `v1::generate` (one stop per benchmarked gateway, so requests agree).
    pub static NOMETER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A usage sink that drops what it is given (the `nometer` stop).
pub struct Dropped;

impl crate::engine::ports::UsageSink for Dropped {
    fn record(&self, _: crate::metering::UsageRecord) {}
}
