//! Native timing of a same-format request body on its way upstream (no workerd): the parse (plain,
//! and recording the `model` spans), then the model rewrite as a `Value` round trip (clone,
//! serialize) or in the client's bytes.
//! Run: `cargo bench --bench passthrough_body` (plain harness, prints µs per request).

use omniroute_edge::engine::plan::ClientRequest;
use omniroute_edge::formats::passthrough::{parse, with_model, with_model_bytes};
use omniroute_edge::formats::Format;
use std::hint::black_box;
use std::time::Instant;

/// A chat request of `turns` user/assistant pairs, each message `text` bytes long (an agent's
/// conversation grows to hundreds of KB).
fn chat_body(turns: usize, text: usize) -> Vec<u8> {
    let line: String =
        "Refactor the function and explain why, with \"quotes\" and \\ escapes. ".chars().cycle().take(text).collect();
    let mut messages = vec![serde_json::json!({"role": "system", "content": "You are a coding agent."})];
    for i in 0..turns {
        messages.push(serde_json::json!({"role": "user", "content": format!("{i}: {line}")}));
        messages.push(serde_json::json!({"role": "assistant", "content": &line}));
    }
    let body =
        serde_json::json!({"model": "openai/gpt-4o-mini", "messages": messages, "stream": false, "temperature": 0.2});
    serde_json::to_vec(&body).unwrap_or_default()
}

fn time(runs: u32, mut f: impl FnMut() -> usize) -> f64 {
    let start = Instant::now();
    let mut n = 0;
    for _ in 0..runs {
        n += f();
    }
    black_box(n);
    start.elapsed().as_secs_f64() * 1e6 / f64::from(runs)
}

fn main() {
    println!("| body | plain Value parse µs | parse with model spans µs | Value rewrite (clone + serialize) µs | byte rewrite µs |\n|---|---:|---:|---:|---:|");
    for (turns, text) in [(1, 12), (20, 500), (100, 2000)] {
        let raw = chat_body(turns, text);
        let runs = (2_000_000 / raw.len()).clamp(20, 20_000) as u32;
        let req = ClientRequest::parse(Format::OpenAiChat, raw.clone(), None, None);
        let Ok(req) = req else { return };
        let plain = time(runs, || {
            serde_json::from_slice::<serde_json::Value>(&raw).map(|v| v.is_object() as usize).unwrap_or(0)
        });
        let spans = time(runs, || parse(&raw).map(|p| p.model_spans.len()).unwrap_or(0));
        let value = time(runs, || {
            serde_json::to_vec(&with_model(Format::OpenAiChat, &req.body, "gpt-4o-mini")).map(|v| v.len()).unwrap_or(0)
        });
        let Some(raw_body) = &req.raw else { return };
        let bytes = time(runs, || with_model_bytes(raw_body, "gpt-4o-mini").len());
        println!("| {} KB | {plain:.1} | {spans:.1} | {value:.1} | {bytes:.1} |", raw.len() / 1024);
    }
}
