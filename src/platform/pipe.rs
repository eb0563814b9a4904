//! A same-format stream piped to the client by the runtime, with a copy read for metering.
//!
//! One JS helper (`pipe_watched`) tees the upstream body, pumps one branch to the client through
//! workerd's native identity stream through a writer we keep (so its end is ours to decide: closed,
//! or after an error event), and reads the other branch in JS: it keeps only the SSE events that can
//! carry usage, a finish or an error (a few per answer) and counts the rest. The request crosses
//! into wasm once at the end, with that skim, instead of once per chunk with every byte: decoding
//! each text delta of a long stream in wasm cost as much as translating it.

use crate::engine::relay::{PipeEnd, Watch};
use crate::error::{GatewayError, Result};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{Context, Response, ResponseBody};

#[wasm_bindgen(inline_js = r#"
// Substrings of the SSE events the tap must read (mirrors `metering::observe::may_matter`).
const MARKS = ["usage", "finish_reason\":\"", "finish_reason\": \"", "finishReason", "stop", "error",
  "completed", "incomplete", "failed", "[DONE]"];
const matters = (ev) => MARKS.some((m) => ev.includes(m));

export function pipe_watched(source) {
  const [toClient, copy] = source.tee();
  // workerd's native identity stream carries the bytes to the client; its writer stays ours (no
  // pipeTo, which would close or abort it with the source), so the end can be decided afterwards.
  const relay = typeof IdentityTransformStream === "function" ? new IdentityTransformStream() : new TransformStream();
  const writer = relay.writable.getWriter();
  const piping = (async () => {
    const r = toClient.getReader();
    try {
      for (;;) {
        const { value, done } = await r.read();
        if (done) return null;
        await writer.write(value);
      }
    } catch (e) {
      return String(e);
    }
  })();
  const watching = (async () => {
    const reader = copy.getReader();
    const decoder = new TextDecoder();
    let pending = "", kept = "", skipped = 0, error = null;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        pending += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
        let i;
        while ((i = pending.indexOf("\n\n")) >= 0) {
          const ev = pending.slice(0, i);
          pending = pending.slice(i + 2);
          if (matters(ev)) kept += ev + "\n\n"; else skipped++;
        }
      }
    } catch (e) {
      error = String(e);
    }
    kept += pending;
    return { kept, skipped, error };
  })();
  return { readable: relay.readable, writer, piping, watching };
}
"#)]
extern "C" {
    fn pipe_watched(source: &web_sys::ReadableStream) -> js_sys::Object;
}

fn field(o: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(o, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// Pipes `source` to the client; `watch` reads the copy and decides how the client's copy ends.
pub fn piped(source: web_sys::ReadableStream, mut watch: Watch, ctx: &Context) -> Result<Response> {
    let handles: JsValue = pipe_watched(&source).into();
    let readable: web_sys::ReadableStream = field(&handles, "readable").unchecked_into();
    let w: web_sys::WritableStreamDefaultWriter = field(&handles, "writer").unchecked_into();
    let (piping, watching): (js_sys::Promise, js_sys::Promise) =
        (field(&handles, "piping").unchecked_into(), field(&handles, "watching").unchecked_into());
    ctx.wait_until(async move {
        let seen = JsFuture::from(watching).await.unwrap_or(JsValue::NULL);
        let error = field(&seen, "error").as_string();
        watch.push(field(&seen, "kept").as_string().unwrap_or_default().as_bytes());
        watch.skipped(field(&seen, "skipped").as_f64().unwrap_or(0.0) as u64);
        let ending = watch.end(error.as_deref());
        // The pipe settles when the client's branch has been written (or the upstream failed); the
        // writable stays ours either way to end as the watch says.
        let _ = JsFuture::from(piping).await;
        let done = match ending {
            PipeEnd::Close => w.close(),
            PipeEnd::CloseWith(tail) => {
                let _ = JsFuture::from(w.write_with_chunk(&js_sys::Uint8Array::from(tail.as_slice()))).await;
                w.close()
            }
        };
        let _ = JsFuture::from(done).await;
    });
    Response::from_body(ResponseBody::Stream(readable)).map_err(|e| GatewayError::internal(format!("pipe: {e}")))
}
