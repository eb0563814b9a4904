//! A same-format stream piped to the client by the runtime, with its events read for metering.
//!
//! One JS helper (`pipe_watched`) reads the upstream body and writes each piece, unchanged, into
//! workerd's native identity stream, whose writer we keep (so its end is ours to decide: closed, or
//! after an error event). While it does, it keeps the stream's first piece and its last 16 KB (usage,
//! a finish or an error sit at a stream's start and end) and counts the events it lets go between
//! them. At the end the request crosses into wasm once, with those bytes, where the tap parses them
//! and reads only the events that may matter (`metering::observe::may_matter`).
//!
//! Why it is shaped so (workerd CPU per request, on a 9.5 KB stream of 3 pieces and a 924 KB one of
//! 234 pieces of 4 KB): each time JS resumes on a stream promise costs tens of µs, so the body is
//! read with a BYOB reader (each read takes all that has arrived, into a buffer that starts at 4 KB
//! and doubles after each full read up to 64 KB: ~15 reads for the large stream instead of 234, with
//! no added latency), and a write is awaited only when the client's side pushes back. Decoding,
//! splitting and filtering the kept events in JS cost ~160 µs by CPU profile on the small stream;
//! the tap's parser does the same work in wasm for a fraction of that. The first design (`tee()`, a
//! JS pump, the copy read piece by piece and every event decoded) cost +45 ms on the large stream. A
//! native `pipeTo` of a tee branch would be cheaper still, but when the upstream breaks off it leaves
//! the client's stream neither writable nor ended, so the error event could not be sent.

use super::promise::settled;
use crate::engine::relay::{PipeEnd, Watch};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::Context;

#[wasm_bindgen(inline_js = r#"
const READ = 65536, TAIL = 16384;

// Event ends ("\n\n" or "\n\r\n") in `b`; `prev` is the byte before it.
function ends(b, prev) {
  let n = prev === 10 && b[0] === 10 ? 1 : 0;
  for (let i = b.indexOf(10); i >= 0 && i + 1 < b.length; i = b.indexOf(10, i + 1)) {
    if (b[i + 1] === 10 || (b[i + 1] === 13 && b[i + 2] === 10)) n++;
  }
  return n;
}
// Where the first event end in `b` is over (the index after it), or -1.
function afterFirstEnd(b) {
  for (let i = b.indexOf(10); i >= 0 && i + 1 < b.length; i = b.indexOf(10, i + 1)) {
    if (b[i + 1] === 10) return i + 2;
    if (b[i + 1] === 13 && b[i + 2] === 10) return i + 3;
  }
  return -1;
}
// Where the last event end in `b` is over, or 0.
function afterLastEnd(b) {
  for (let i = b.lastIndexOf(10); i > 0; i = b.lastIndexOf(10, i - 1)) {
    if (b[i - 1] === 10) return i + 1;
    if (b[i - 1] === 13 && b[i - 2] === 10) return i + 1;
  }
  return 0;
}
function joined(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

export function pipe_watched(source) {
  const relay = typeof IdentityTransformStream === "function" ? new IdentityTransformStream() : new TransformStream();
  const writer = relay.writable.getWriter();
  const watching = (async () => {
    let reader, byob = true;
    try { reader = source.getReader({ mode: "byob" }); } catch { reader = source.getReader(); byob = false; }
    // `dropped`: events wholly between the first piece and the kept tail; `last`: the byte before.
    let head = null, tail = [], tailBytes = 0, dropped = -1, last = 0, error = null, size = 4096;
    try {
      for (;;) {
        const { value, done } = byob ? await reader.read(new Uint8Array(size)) : await reader.read();
        if (value && value.length > 0) {
          if (writer.desiredSize === null) {
            // The client's side errored: it went away. Stop the upstream too.
            reader.cancel().catch(() => {});
            return { gone: true, writer };
          }
          writer.write(value).catch(() => {});
          if (writer.desiredSize <= 0) await writer.ready.catch(() => {});
          // A full read: more was waiting, so the next one may take more at once.
          if (value.length === size && size < READ) size *= 2;
          if (head === null) { head = value; last = value[value.length - 1]; }
          else {
            tail.push(value);
            tailBytes += value.length;
            while (tail.length > 1 && tailBytes - tail[0].length >= TAIL) {
              const out = tail.shift();
              tailBytes -= out.length;
              dropped = Math.max(dropped, 0) + ends(out, last);
              last = out[out.length - 1];
            }
          }
        }
        if (done) break;
      }
    } catch (e) {
      error = String(e);
    }
    // What the tap reads: all of it, or the first piece's whole events and the tail's from its first
    // event end on (with the events in between counted, about: an end split across pieces may be
    // missed). The tap parses and filters the events itself.
    let kept;
    if (head === null) kept = new Uint8Array(0);
    else if (dropped < 0) kept = tail.length ? joined([head, ...tail]) : head;
    else {
      const t = joined(tail);
      const from = afterFirstEnd(t);
      dropped += from < 0 ? 0 : 1;
      kept = joined([head.subarray(0, afterLastEnd(head)), from < 0 ? t.subarray(t.length) : t.subarray(from)]);
    }
    return { kept, skipped: Math.max(0, dropped), error, writer };
  })();
  return { readable: relay.readable, done: watching.catch((e) => ({ kept: new Uint8Array(0), skipped: 0, error: String(e), writer })) };
}
"#)]
extern "C" {
    fn pipe_watched(source: &web_sys::ReadableStream) -> js_sys::Object;
}

fn field(o: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(o, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// The client's copy of `source`; `watch` reads what passed and decides how that copy ends.
pub fn piped(source: web_sys::ReadableStream, mut watch: Watch, ctx: &Context) -> web_sys::ReadableStream {
    let handles: JsValue = pipe_watched(&source).into();
    let readable: web_sys::ReadableStream = field(&handles, "readable").unchecked_into();
    let done: js_sys::Promise = field(&handles, "done").unchecked_into();
    ctx.wait_until(async move {
        let seen = settled(&done).await.unwrap_or(JsValue::NULL);
        let w: web_sys::WritableStreamDefaultWriter = field(&seen, "writer").unchecked_into();
        if field(&seen, "gone").is_truthy() {
            // The client went away and the upstream was cancelled. Dropping the watch records the
            // request as abandoned (499), like a dropped written stream.
            drop(watch);
            return;
        }
        let error = field(&seen, "error").as_string();
        let kept: js_sys::Uint8Array = field(&seen, "kept").unchecked_into();
        watch.push(&kept.to_vec());
        watch.skipped(field(&seen, "skipped").as_f64().unwrap_or(0.0) as u64);
        let done = match watch.end(error.as_deref()) {
            PipeEnd::Close => w.close(),
            PipeEnd::CloseWith(tail) => {
                let _ = settled(&w.write_with_chunk(&js_sys::Uint8Array::from(tail.as_slice()))).await;
                w.close()
            }
            // Plain bytes that broke off: the client's stream errors rather than look whole.
            PipeEnd::Abort => w.abort(),
        };
        let _ = settled(&done).await;
    });
    readable
}
