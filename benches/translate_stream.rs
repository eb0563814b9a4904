//! Native timing of the stream translator (no workerd): how much of translated streaming's cost is
//! the pure core. Run: `cargo bench --bench translate_stream` (plain harness, prints µs per event).
//! Every encoder and decoder is exercised: OpenAI → each client format, and each upstream format
//! (taken from the encoders' own output for the same answer) → OpenAI.

use omniroute_edge::engine::translate::StreamTranslator;
use omniroute_edge::formats::Format;
use omniroute_edge::ir::EncodeCtx;
use std::time::Instant;

const EVENTS: usize = 5000;

fn openai_stream(chunks: usize) -> String {
    let head =
        r#"{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"#;
    let mut s =
        format!("data: {head}\"delta\":{{\"role\":\"assistant\",\"content\":\"\"}},\"finish_reason\":null}}]}}\n\n");
    for i in 0..chunks {
        s.push_str(&format!("data: {head}\"delta\":{{\"content\":\"token{i} \"}},\"finish_reason\":null}}]}}\n\n"));
    }
    s.push_str(&format!("data: {head}\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}\n\ndata: [DONE]\n\n"));
    s
}

fn translate(from: Format, to: Format, stream: &[u8], ctx: &EncodeCtx) -> Vec<u8> {
    let mut t = StreamTranslator::new(from, to, ctx);
    let mut out = Vec::new();
    for piece in stream.chunks(16 * 1024) {
        out.extend(t.push(piece));
    }
    out.extend(t.end());
    out
}

fn main() {
    let ctx = EncodeCtx { model: "openai/m".into(), id_seed: "bench".into(), created: 1, include_usage: false };
    let openai = openai_stream(EVENTS).into_bytes();
    let others = [Format::Anthropic, Format::OpenAiResponses, Format::Gemini];
    let mut cases: Vec<(Format, Format, Vec<u8>)> =
        others.iter().map(|&c| (Format::OpenAiChat, c, openai.clone())).collect();
    cases.push((Format::OpenAiChat, Format::OpenAiChat, openai.clone()));
    for &u in &others {
        cases.push((u, Format::OpenAiChat, translate(Format::OpenAiChat, u, &openai, &ctx)));
    }
    for (upstream, client, stream) in cases {
        let runs = 20;
        let start = Instant::now();
        let mut text = 0;
        for _ in 0..runs {
            text += translate(upstream, client, &stream, &ctx).len();
        }
        let per_run = start.elapsed().as_secs_f64() / runs as f64;
        println!(
            "{:>16} → {:<16} {:7.2} ms per {:.2} MB upstream stream, {:5.2} µs per event ({} bytes out)",
            format!("{upstream:?}"),
            format!("{client:?}"),
            per_run * 1e3,
            stream.len() as f64 / 1e6,
            per_run * 1e6 / EVENTS as f64,
            text / runs
        );
    }
}
