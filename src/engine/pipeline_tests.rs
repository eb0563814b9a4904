//! The pipeline against scripted ports: which upstream calls it makes, in what order, what the
//! client gets, and that every request leaves exactly one usage record.

use super::*;
use crate::engine::relay::PipeEnd;
use crate::engine::scripted::*;
use crate::routing::combo::Combo;
use serde_json::json;
use std::cell::Cell;

const CHAT_OK: &str = r#"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2}}"#;
const STREAM_HEAD: &str =
    "data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"}}]}\n\n";
const STREAM_TAIL: &str = concat!(
    "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n",
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":2}}\n\n",
    "data: [DONE]\n\n",
);

struct World {
    upstream: ScriptedUpstream,
    view: ScriptedView,
    records: Rc<Records>,
    clock: Rc<FixedClock>,
    snapshot: TenantSnapshot,
    gate: Option<Rc<ScriptedGate>>,
    replays: Option<Rc<ScriptedReplays>>,
    responses: Option<Rc<ScriptedResponses>>,
}

impl World {
    fn ports(&self) -> Ports<'_, ScriptedUpstream, FakeCredentials> {
        Ports {
            upstream: &self.upstream,
            credentials: &FakeCredentials,
            resilience: &self.view,
            usage: self.records.clone(),
            clock: self.clock.clone(),
            random: &Zeros,
            admission: self.gate.clone().map(|g| g as Rc<dyn crate::engine::ports::Admission>),
            replays: self.replays.clone().map(|r| r as Rc<dyn crate::engine::ports::Replays>),
            responses: self.responses.clone().map(|r| r as Rc<dyn crate::engine::ports::ResponseStore>),
        }
    }

    fn new(conns: Vec<crate::config::ConnectionRecord>) -> World {
        World {
            upstream: ScriptedUpstream::default(),
            view: ScriptedView::default(),
            records: Rc::new(Records::default()),
            clock: Rc::new(FixedClock(Cell::new(1_000_000))),
            snapshot: snapshot(conns),
            gate: None,
            replays: None,
            responses: None,
        }
    }

    fn combo(&mut self, v: serde_json::Value) {
        self.snapshot.combos.push(serde_json::from_value::<Combo>(v).unwrap());
    }

    /// Runs a request and drives its answer to the end: (status, headers, body the client got).
    fn request(&self, format: Format, body: serde_json::Value) -> (u16, Vec<(String, String)>, String) {
        self.request_with(format, body, |_| {})
    }

    /// [`World::request`] with what the platform read of the request's headers changed by `f`.
    fn request_with(
        &self,
        format: Format,
        body: serde_json::Value,
        f: impl FnOnce(&mut Inbound),
    ) -> (u16, Vec<(String, String)>, String) {
        let ports = self.ports();
        let mut inbound = Inbound {
            format,
            endpoint: "/v1/chat/completions".into(),
            key_id: "key_1".into(),
            arrived_at: self.clock.0.get(),
            ..Inbound::default()
        };
        f(&mut inbound);
        let answer = block_on(run(&ports, &self.snapshot, inbound, Ok(body.to_string().into_bytes())));
        let text = block_on(drain(answer.relay, &self.upstream));
        (answer.status, answer.headers, text)
    }

    fn chat(&self, model: &str, stream: bool) -> (u16, Vec<(String, String)>, String) {
        self.request(
            Format::OpenAiChat,
            json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}),
        )
    }

    fn only_record(&self) -> UsageRecord {
        let r = self.records.0.borrow();
        assert_eq!(r.len(), 1, "exactly one usage record per request: {r:?}");
        r[0].clone()
    }
}

/// What the client sees of a stream the platform aborted (no bytes can say it).
const ABORTED: &[u8] = b"<aborted>";

/// What the platform does with a relay plan, minus the I/O.
async fn drain(relay: Relay<Body>, upstream: &ScriptedUpstream) -> String {
    let mut out = Vec::new();
    match relay {
        Relay::Whole(b) => out = b,
        Relay::Pipe { mut body, mut watch } => {
            let mut error = None;
            while let Some(c) = body.next_chunk().await {
                match c {
                    Ok(c) => {
                        watch.push(&c);
                        out.extend(c);
                    }
                    Err(e) => {
                        error = Some(e.message);
                        break;
                    }
                }
            }
            match watch.end(error.as_deref()) {
                PipeEnd::Close => {}
                PipeEnd::CloseWith(tail) => out.extend(tail),
                PipeEnd::Abort => out.extend(ABORTED),
            }
        }
        Relay::Stream { first, mut body, mut writer } => {
            out.extend(writer.push(first));
            loop {
                let failure = match body.next_chunk().await {
                    Some(Ok(c)) => {
                        out.extend(writer.push(c));
                        continue;
                    }
                    Some(Err(e)) => Some(e.message),
                    None => None,
                };
                let (more, next) = writer.ended(upstream, failure.as_deref()).await;
                out.extend(more);
                match next {
                    Some(next) => body = next,
                    None if writer.severed() => break out.extend(ABORTED),
                    None => break,
                }
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[test]
fn a_failing_account_hands_over_to_the_next_and_one_record_counts_both_attempts() {
    let w = World::new(vec![conn("a", "openai", 1), conn("b", "openai", 2)]);
    w.upstream
        .script("a", vec![Script::Answer(429, r#"{"error":{"message":"slow down"}}"#, vec![("retry-after", "3")])]);
    w.upstream.script("b", vec![Script::Answer(200, CHAT_OK, vec![("x-request-id", "up-1")])]);
    let (status, headers, body) = w.chat("openai/gpt-4o", false);
    assert_eq!(status, 200);
    assert!(body.contains("\"hi\""));
    assert_eq!(w.upstream.calls(), ["a:gpt-4o", "b:gpt-4o"]);
    assert_eq!(header(&headers, "x-omniroute-connection"), Some("b"));
    assert_eq!(header(&headers, "x-omniroute-attempts"), Some("2"));
    assert_eq!(header(&headers, "x-upstream-request-id"), Some("up-1"), "the provider's id is kept, renamed");
    assert!(header(&headers, "x-request-id").unwrap().starts_with("req_"));
    let r = w.only_record();
    assert_eq!((r.status, r.attempts, r.connection.as_str(), r.provider.as_str()), (200, 2, "b", "openai"));
    assert_eq!((r.tokens.input, r.tokens.output, r.tokens.estimated), (9, 2, false));
    assert!(r.cost_usd > 0.0, "gpt-4o has a list price");
    let events = w.view.events.borrow();
    assert!(matches!(&events[0], Event::Failure { connection, .. } if connection == "a"));
}

#[test]
fn a_combo_falls_back_to_its_next_target_and_retries_transient_failures_after_failover() {
    let mut w = World::new(vec![conn("a", "openai", 1), conn("g", "groq", 1)]);
    w.combo(json!({"name": "coding", "targets": [{"model": "openai/gpt-4o"}, {"model": "groq/llama-3.3-70b-versatile"}], "config": {"max_retries": 1}}));
    w.upstream.script("a", vec![Script::Answer(500, "boom", vec![]), Script::Answer(200, CHAT_OK, vec![])]);
    w.upstream.script("g", vec![Script::Timeout]);
    let (status, _, _) = w.chat("coding", false);
    assert_eq!(status, 200);
    assert_eq!(w.upstream.calls(), ["a:gpt-4o", "g:llama-3.3-70b-versatile", "a:gpt-4o"]);
    let r = w.only_record();
    assert_eq!((r.attempts, r.combo.as_deref(), r.requested_model.as_str()), (3, Some("coding"), "coding"));
}

#[test]
fn open_breakers_and_cooling_accounts_are_skipped_without_a_call() {
    let mut w = World::new(vec![conn("a", "openai", 1), conn("b", "openai", 2), conn("g", "groq", 1)]);
    w.combo(json!({"name": "c", "targets": [{"model": "openai/gpt-4o"}, {"model": "groq/llama-3.3-70b-versatile"}]}));
    w.upstream.script("g", vec![Script::Answer(200, CHAT_OK, vec![])]);
    w.view.open.borrow_mut().insert("openai".into(), 4_000);
    assert_eq!(w.chat("c", false).0, 200);
    assert_eq!(w.upstream.calls(), ["g:llama-3.3-70b-versatile"]);

    // Everything unavailable: the gateway answers itself, and still records the request.
    let w = World::new(vec![conn("a", "openai", 1)]);
    w.view.open.borrow_mut().insert("openai".into(), 4_500);
    let (status, headers, body) = w.chat("openai/gpt-4o", false);
    assert_eq!((status, header(&headers, "retry-after")), (503, Some("5")));
    assert!(body.contains("circuit_open"));
    assert!(w.upstream.calls().is_empty());
    let r = w.only_record();
    assert_eq!((r.status, r.attempts, r.error_code.as_deref()), (503, 0, Some("circuit_open")));

    let w = World::new(vec![conn("a", "openai", 1), conn("b", "openai", 2)]);
    w.view.cooling.borrow_mut().insert("a".into(), 9_000);
    w.upstream.script("b", vec![Script::Answer(200, CHAT_OK, vec![])]);
    w.chat("openai/gpt-4o", false);
    assert_eq!(w.upstream.calls(), ["b:gpt-4o"]);
}

#[test]
fn the_clients_own_mistake_is_not_retried_elsewhere() {
    let w = World::new(vec![conn("a", "openai", 1), conn("b", "openai", 2)]);
    w.upstream.script("a", vec![Script::Answer(400, r#"{"error":{"message":"bad tool schema"}}"#, vec![])]);
    let (status, _, body) = w.chat("openai/gpt-4o", false);
    assert_eq!(status, 400);
    assert!(body.contains("bad tool schema"));
    assert_eq!(w.upstream.calls(), ["a:gpt-4o"]);
    assert_eq!(w.only_record().status, 400);
}

#[test]
fn a_stream_that_dies_before_its_first_byte_falls_back() {
    let w = World::new(vec![conn("a", "openai", 1), conn("b", "openai", 2)]);
    w.upstream.script("a", vec![Script::Chunks(vec![Err("connection reset")])]);
    w.upstream.script("b", vec![Script::Chunks(vec![Ok(STREAM_HEAD), Ok(STREAM_TAIL)])]);
    let (status, headers, body) = w.chat("openai/gpt-4o", true);
    assert_eq!(status, 200);
    assert_eq!(w.upstream.calls(), ["a:gpt-4o", "b:gpt-4o"]);
    assert!(body.contains("Hel") && body.ends_with("data: [DONE]\n\n"), "{body}");
    assert_eq!(header(&headers, "x-omniroute-attempts"), Some("2"));
    let r = w.only_record();
    assert_eq!((r.tokens.input, r.tokens.output, r.streamed, r.error_code), (4, 2, true, None));
}

#[test]
fn a_stream_that_dies_after_its_first_byte_ends_with_an_error_event_never_as_a_whole_answer() {
    // Held for fallback (another attempt remains), then written by the gateway: an error event.
    let w = World::new(vec![conn("a", "openai", 1), conn("b", "openai", 2)]);
    w.upstream.script("a", vec![Script::Chunks(vec![Ok(STREAM_HEAD), Err("connection reset")])]);
    let (_, _, body) = w.chat("openai/gpt-4o", true);
    assert_eq!(w.upstream.calls(), ["a:gpt-4o"], "committed after the first byte");
    assert!(body.contains("Hel") && body.contains("\"error\"") && !body.contains("[DONE]"), "{body}");
    assert_eq!(w.only_record().error_code.as_deref(), Some("upstream_cut"));

    // A connection cut that looks like a clean end (no finish, no [DONE]) is caught the same way.
    let w = World::new(vec![conn("a", "openai", 1), conn("b", "openai", 2)]);
    w.upstream.script("a", vec![Script::Chunks(vec![Ok(STREAM_HEAD)])]);
    let (_, _, body) = w.chat("openai/gpt-4o", true);
    assert!(body.contains("\"error\""), "{body}");

    // The last attempt's same-format stream is piped; a cut one still ends with an error event.
    let w = World::new(vec![conn("a", "openai", 1)]);
    w.upstream.script("a", vec![Script::Chunks(vec![Ok(STREAM_HEAD)])]);
    let (_, _, body) = w.chat("openai/gpt-4o", true);
    assert!(body.starts_with(STREAM_HEAD) && body.contains("\"error\"") && !body.contains("[DONE]"), "{body}");
    assert_eq!(w.only_record().error_code.as_deref(), Some("upstream_cut"));

    // A whole answer is read before it is sent: one cut mid-way is an error answer, never half a
    // document.
    let w = World::new(vec![conn("a", "openai", 1)]);
    w.upstream.script("a", vec![Script::Chunks(vec![Ok(&CHAT_OK[..40]), Err("reset")])]);
    let (status, _, body) = w.chat("openai/gpt-4o", false);
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("Could not read the answer"), "{body}");
}

#[test]
fn translated_streams_and_answers_are_metered_from_the_upstreams_usage() {
    let w = World::new(vec![conn("a", "openai", 1)]);
    w.upstream.script("a", vec![Script::Chunks(vec![Ok(STREAM_HEAD), Ok(STREAM_TAIL)])]);
    let body = json!({"model": "openai/gpt-4o", "max_tokens": 100, "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let (status, headers, out) = w.request(Format::Anthropic, body);
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("text/event-stream; charset=utf-8"));
    assert!(out.contains("message_stop"), "{out}");
    let r = w.only_record();
    assert_eq!((r.tokens.input, r.tokens.output, r.client_format.as_str()), (4, 2, "anthropic"));

    let w = World::new(vec![conn("a", "openai", 1)]);
    w.upstream.script("a", vec![Script::Answer(200, CHAT_OK, vec![])]);
    let body = json!({"model": "openai/gpt-4o", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]});
    let (_, _, out) = w.request(Format::Anthropic, body);
    assert!(out.contains("\"type\":\"message\""), "{out}");
    assert_eq!(w.only_record().tokens.input, 9);
}

#[test]
fn refused_requests_are_metered_too() {
    let w = World::new(vec![conn("a", "openai", 1)]);
    let ports = w.ports();
    let inbound = Inbound { client_request_id: Some("my-trace-1".into()), ..Inbound::default() };
    let answer = block_on(run(&ports, &w.snapshot, inbound, Ok(b"{not json".to_vec())));
    assert_eq!(answer.status, 400);
    assert_eq!(header(&answer.headers, "x-request-id"), Some("my-trace-1"));
    let r = w.only_record();
    assert_eq!(
        (r.request_id.as_str(), r.status, r.error_code.as_deref()),
        ("my-trace-1", 400, Some("invalid_request"))
    );

    let (status, _, _) = w.chat("nope-model", false);
    assert_eq!(status, 404);
    assert_eq!(w.records.0.borrow().len(), 2);
}

#[test]
fn a_relay_dropped_before_its_end_still_records_the_request() {
    let w = World::new(vec![conn("a", "openai", 1)]);
    w.upstream.script("a", vec![Script::Chunks(vec![Ok(STREAM_HEAD), Ok(STREAM_TAIL)])]);
    let ports = w.ports();
    let body = json!({"model": "openai/gpt-4o", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let answer = block_on(run(&ports, &w.snapshot, Inbound::default(), Ok(body.to_string().into_bytes())));
    assert!(w.records.0.borrow().is_empty(), "a stream is recorded when it ends");
    drop(answer);
    assert_eq!(w.only_record().status, 499);
}

#[test]
fn header_values_copied_from_elsewhere_are_bounded_and_printable() {
    assert_eq!(upstream::header_value("a\r\nb"), "a%0D%0Ab");
    assert_eq!(upstream::header_value(&"x".repeat(100_000)).len(), upstream::MAX_HEADER_VALUE);
    assert_eq!(request_id(Some("bad id\n"), &[1, 2]), "req_0102");
    assert_eq!(request_id(Some(&"x".repeat(500)), &[1]), "req_01");
}

#[test]
fn the_tenants_own_prices_cost_the_request() {
    use crate::pricing::{Price, PriceOverride};
    let mut w = World::new(vec![conn("a", "openai", 1)]);
    let price = Price { input: 1_000_000.0, output: 0.0, cached_input: None, reasoning: None };
    w.snapshot.prices.push(PriceOverride { provider: "openai".into(), model: "gpt-4o".into(), price });
    w.upstream.script("a", vec![Script::Answer(200, CHAT_OK, vec![])]);
    w.chat("openai/gpt-4o", false);
    assert_eq!(w.only_record().cost_usd, 9.0, "9 prompt tokens at $1 each");
}

#[test]
fn bodies_are_logged_only_when_asked_and_never_with_credentials() {
    let w = World::new(vec![conn("a", "openai", 1)]);
    w.upstream.script("a", vec![Script::Answer(200, CHAT_OK, vec![])]);
    w.chat("openai/gpt-4o", false);
    assert_eq!(w.only_record().request_body, None);

    let mut w = World::new(vec![conn("a", "openai", 1)]);
    w.snapshot.settings.log_bodies = true;
    w.upstream.script("a", vec![Script::Chunks(vec![Ok(STREAM_HEAD), Ok(STREAM_TAIL)])]);
    let secret = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789";
    w.request(Format::OpenAiChat, json!({"model": "openai/gpt-4o", "stream": true, "messages": [{"role": "user", "content": format!("my key is {secret}")}]}));
    let r = w.only_record();
    let (req, resp) = (r.request_body.unwrap(), r.response_body.unwrap());
    assert!(req.contains("my key is") && !req.contains(secret), "{req}");
    assert!(resp.contains("Hel") && resp.contains("[DONE]"), "{resp}");
}

#[test]
fn a_key_scoped_to_connections_is_served_only_by_them() {
    use crate::config::key_access::{KeyAccess, Scopes};
    let scoped = |connections: &[&str]| KeyAccess {
        scopes: Scopes { connections: connections.iter().map(|c| c.to_string()).collect(), ..Scopes::default() },
        ..KeyAccess::default()
    };
    let mut w = World::new(vec![conn("a", "openai", 1), conn("b", "openai", 2), conn("g", "groq", 1)]);
    w.combo(json!({"name": "c", "targets": [{"model": "openai/gpt-4o"}, {"model": "groq/llama-3.3-70b-versatile"}]}));
    for id in ["a", "b", "g"] {
        w.upstream.script(id, vec![Script::Answer(200, CHAT_OK, vec![])]);
    }
    let chat = |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    let (status, _, _) = w.request_with(Format::OpenAiChat, chat("openai/gpt-4o"), |i| i.access = scoped(&["b"]));
    assert_eq!((status, w.upstream.calls()), (200, vec!["b:gpt-4o".to_string()]), "not the preferred `a`");
    // A combo skips the targets the key cannot reach through its connections.
    let (status, _, _) = w.request_with(Format::OpenAiChat, chat("c"), |i| i.access = scoped(&["g"]));
    assert_eq!((status, w.upstream.calls().last().map(String::as_str)), (200, Some("g:llama-3.3-70b-versatile")));
    let calls = w.upstream.calls().len();
    let (status, _, body) = w.request_with(
        Format::Anthropic,
        json!({"model": "openai/gpt-4o", "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}]}),
        |i| i.access = scoped(&["g"]),
    );
    assert_eq!(status, 403);
    assert!(body.contains("permission_error") && body.contains("connections that serve"), "{body}");
    assert_eq!(w.upstream.calls().len(), calls, "no upstream call");
}

#[test]
fn a_no_log_key_never_has_its_bodies_logged() {
    let mut w = World::new(vec![conn("a", "openai", 1)]);
    w.snapshot.settings.log_bodies = true;
    w.upstream.script("a", vec![Script::Answer(200, CHAT_OK, vec![])]);
    let body = json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "private"}]});
    let (status, _, _) = w.request_with(Format::OpenAiChat, body, |i| i.access.no_log = true);
    let r = w.only_record();
    assert_eq!((status, r.request_body, r.response_body), (200, None, None));
}

/// An Anthropic stream: one text block, cut (`tail` false: no stop, no message_stop) or whole.
fn anthropic_stream(text: &'static str, whole: bool) -> Vec<std::result::Result<&'static str, &'static str>> {
    let head = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_up\",\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":20,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    );
    let delta = match text {
        "Hel" => "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n",
        _ => "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"lo\"}}\n\n",
    };
    let tail = concat!(
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":7}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );
    let mut out = vec![Ok(head), Ok(delta)];
    if whole {
        out.push(Ok(tail));
    }
    out
}

/// A chat stream continuing with "lo" (as the continuation's upstream answers).
const CONTINUED: &str = concat!(
    "data: {\"id\":\"k\",\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"lo\"}}]}\n\n",
    "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":6,\"completion_tokens\":1}}\n\n",
    "data: [DONE]\n\n",
);

fn continuing(continue_streams: bool, conns: Vec<crate::config::ConnectionRecord>, targets: &[&str]) -> World {
    let mut w = World::new(conns);
    let targets: Vec<_> = targets.iter().map(|m| json!({"model": m})).collect();
    w.combo(
        json!({"name": "c", "targets": targets, "config": {"continue_streams": continue_streams, "max_retries": 0}}),
    );
    w
}

/// A combo of OpenAI then Groq: the first answers `first`, the second continues with "lo".
fn openai_then_groq(continue_streams: bool, first: Vec<std::result::Result<&'static str, &'static str>>) -> World {
    let conns = vec![conn("a", "openai", 1), conn("g", "groq", 1)];
    let w = continuing(continue_streams, conns, &["openai/gpt-4o", "groq/llama-3.3-70b-versatile"]);
    w.upstream.script("a", vec![Script::Chunks(first)]);
    w.upstream.script("g", vec![Script::Chunks(vec![Ok(CONTINUED)])]);
    w
}

fn chat_client_view(body: &str) -> (usize, String, Vec<String>, usize, bool) {
    let v = chat_view(body.as_bytes());
    (v.roles, v.text, v.finishes, v.done, v.error)
}

fn sent_body(w: &World, n: usize) -> serde_json::Value {
    serde_json::from_slice(&w.upstream.sent.borrow()[n].body).unwrap()
}

#[test]
fn a_chat_stream_cut_midway_continues_from_the_next_target_as_one_answer() {
    let w = openai_then_groq(true, vec![Ok(STREAM_HEAD), Err("connection reset")]);
    let (status, _, body) = w.chat("c", true);
    assert_eq!(status, 200);
    assert_eq!(w.upstream.calls(), ["a:gpt-4o", "g:llama-3.3-70b-versatile"]);
    assert_eq!(chat_client_view(&body), (1, "Hello".into(), vec!["stop".into()], 1, false), "{body}");
    assert!(body.ends_with("data: [DONE]\n\n"));
    // The continuation asks for the conversation, the partial answer, and to go on from there.
    let asked = sent_body(&w, 1);
    let roles: Vec<_> = asked["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    assert_eq!(asked["messages"][1]["content"], "Hel");
    assert_eq!(asked["messages"][2]["content"], continuation::INSTRUCTION);
    assert_eq!((asked["model"].as_str(), asked["stream"].as_bool()), (Some("llama-3.3-70b-versatile"), Some(true)));
    let r = w.only_record();
    assert_eq!((r.attempts, r.continuations, r.error_code.as_deref()), (2, 1, None));
    assert_eq!((r.provider.as_str(), r.connection.as_str()), ("groq", "g"));
    // The cut leg is estimated ("Hel": 1 token), the continuation reported its own usage.
    let asked_estimate = (json!({"model": "c", "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
        .to_string()
        .len()
        .div_ceil(4) as u64;
    assert_eq!((r.tokens.output, r.tokens.input, r.tokens.estimated), (2, asked_estimate + 6, true));
    assert!(r.cost_usd > 0.0, "the gpt-4o leg is priced");

    // A stream that ends cleanly without its finish, on the tenant setting alone, without a combo.
    let mut w = World::new(vec![conn("a", "openai", 1), conn("b", "openai", 2)]);
    w.snapshot.settings.stream_continuation = true;
    w.upstream.script("a", vec![Script::Chunks(vec![Ok(STREAM_HEAD)])]);
    w.upstream.script("b", vec![Script::Chunks(vec![Ok(CONTINUED)])]);
    let (_, _, body) = w.chat("openai/gpt-4o", true);
    assert_eq!(chat_client_view(&body), (1, "Hello".into(), vec!["stop".into()], 1, false), "{body}");
    assert_eq!(w.only_record().continuations, 1);
}

#[test]
fn an_anthropic_client_gets_one_message_and_anthropic_targets_are_prefilled() {
    // Translated leg (OpenAI → Anthropic client) cut after "Hel"; the Anthropic target continues
    // from a prefill: the partial text as the last, assistant, turn.
    let w = continuing(
        true,
        vec![conn("a", "openai", 1), conn("k", "anthropic", 1)],
        &["openai/gpt-4o", "anthropic/claude-sonnet-4-5"],
    );
    w.upstream.script("a", vec![Script::Chunks(vec![Ok(STREAM_HEAD), Err("reset")])]);
    w.upstream.script("k", vec![Script::Chunks(anthropic_stream("lo", true))]);
    let body =
        json!({"model": "c", "max_tokens": 100, "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let (status, _, out) = w.request(Format::Anthropic, body.clone());
    assert_eq!(status, 200);
    assert_anthropic_single_message(&out);
    let asked = sent_body(&w, 1);
    let messages = asked["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "no extra user turn: {asked}");
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(messages[1]["content"], json!([{"type": "text", "text": "Hel"}]), "{asked}");
    assert!(asked.get("thinking").is_none());
    assert_eq!(w.only_record().continuations, 1);

    // Same-format leg relayed as it came, dying in-band (an overloaded error event): the error frame
    // never reaches the client, the OpenAI target continues into the same message.
    let w = continuing(
        true,
        vec![conn("k", "anthropic", 1), conn("a", "openai", 1)],
        &["anthropic/claude-sonnet-4-5", "openai/gpt-4o"],
    );
    let mut cut = anthropic_stream("Hel", false);
    cut.push(Ok("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"));
    w.upstream.script("k", vec![Script::Chunks(cut)]);
    w.upstream.script("a", vec![Script::Chunks(vec![Ok(CONTINUED)])]);
    let (_, _, out) = w.request(Format::Anthropic, body);
    assert_anthropic_single_message(&out);
    assert!(!out.contains("Overloaded"), "{out}");
    assert_eq!(sent_body(&w, 1)["messages"][2]["content"], continuation::INSTRUCTION);
}

/// One `message_start`, one text block holding "Hello", one `message_stop`, no error.
fn assert_anthropic_single_message(out: &str) {
    let mut p = crate::sse::SseParser::new();
    let events = p.feed(out.as_bytes());
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_deref().unwrap_or_default()).collect();
    let count = |k: &str| kinds.iter().filter(|x| **x == k).count();
    assert_eq!(
        (count("message_start"), count("content_block_start"), count("message_stop"), count("error")),
        (1, 1, 1, 0),
        "{out}"
    );
    let text: String = events
        .iter()
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(&e.data).ok())
        .filter_map(|v| v.pointer("/delta/text").and_then(|t| t.as_str()).map(str::to_string))
        .collect();
    assert_eq!(text, "Hello", "{out}");
}

#[test]
fn without_the_option_a_cut_stream_still_ends_in_an_error() {
    let w = openai_then_groq(false, vec![Ok(STREAM_HEAD), Err("connection reset")]);
    let (_, _, body) = w.chat("c", true);
    assert_eq!(w.upstream.calls(), ["a:gpt-4o"]);
    let (_, text, _, _, error) = chat_client_view(&body);
    assert_eq!((text.as_str(), error), ("Hel", true), "{body}");
    let r = w.only_record();
    assert_eq!((r.continuations, r.error_code.as_deref()), (0, Some("upstream_cut")));
}

#[test]
fn a_stream_is_continued_at_most_once() {
    let w = continuing(
        true,
        vec![conn("a", "openai", 1), conn("g", "groq", 1), conn("d", "deepseek", 1)],
        &["openai/gpt-4o", "groq/llama-3.3-70b-versatile", "deepseek/deepseek-chat"],
    );
    w.upstream.script("a", vec![Script::Chunks(vec![Ok(STREAM_HEAD), Err("reset")])]);
    w.upstream.script("g", vec![Script::Chunks(vec![Ok(STREAM_HEAD), Err("reset again")])]);
    w.upstream.script("d", vec![Script::Chunks(vec![Ok(CONTINUED)])]);
    let (_, _, body) = w.chat("c", true);
    assert_eq!(w.upstream.calls(), ["a:gpt-4o", "g:llama-3.3-70b-versatile"]);
    let (roles, text, _, done, error) = chat_client_view(&body);
    assert_eq!((roles, text.as_str(), done, error), (1, "HelHel", 1, true), "{body}");
    let r = w.only_record();
    assert_eq!((r.attempts, r.continuations, r.error_code.as_deref()), (2, 1, Some("upstream_cut")));

    // A continuation target that refuses is skipped for the next one; each call is an attempt.
    let w = continuing(
        true,
        vec![conn("a", "openai", 1), conn("g", "groq", 1), conn("d", "deepseek", 1)],
        &["openai/gpt-4o", "groq/llama-3.3-70b-versatile", "deepseek/deepseek-chat"],
    );
    w.upstream.script("a", vec![Script::Chunks(vec![Ok(STREAM_HEAD), Err("reset")])]);
    w.upstream.script("g", vec![Script::Answer(503, "busy", vec![])]);
    w.upstream.script("d", vec![Script::Chunks(vec![Ok(CONTINUED)])]);
    let (_, _, body) = w.chat("c", true);
    assert_eq!(chat_client_view(&body).1, "Hello");
    assert_eq!((w.only_record().attempts, w.only_record().continuations), (3, 1));
}

#[test]
fn a_tool_call_in_progress_is_not_continued() {
    let tool = "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\"}}]}}]}\n\n";
    let w = openai_then_groq(true, vec![Ok(STREAM_HEAD), Ok(tool), Err("reset")]);
    let (_, _, body) = w.chat("c", true);
    assert_eq!(w.upstream.calls(), ["a:gpt-4o"]);
    assert!(chat_client_view(&body).4, "ends in an error: {body}");
    assert_eq!(w.only_record().continuations, 0);
}

fn limited(conns: Vec<crate::config::ConnectionRecord>, limits: &str) -> World {
    let mut w = World::new(conns);
    w.gate = Some(ScriptedGate::new(serde_json::from_str(limits).unwrap(), w.clock.clone()));
    w
}

impl World {
    fn gate_calls(&self) -> Vec<String> {
        self.gate.as_ref().unwrap().calls.borrow().clone()
    }
    fn ledger(&self) -> std::cell::Ref<'_, crate::limits::Ledger> {
        self.gate.as_ref().unwrap().ledger.borrow()
    }
}

#[test]
fn a_key_over_its_request_rate_gets_429_in_its_format_without_an_upstream_call() {
    let w = limited(vec![conn("a", "openai", 1)], r#"{"requests_per_minute":2}"#);
    w.upstream.script("a", vec![Script::Answer(200, CHAT_OK, vec![])]);
    assert_eq!(w.chat("openai/gpt-4o", false).0, 200);
    assert_eq!(w.chat("openai/gpt-4o", false).0, 200);
    let body = json!({"model": "openai/gpt-4o", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
    let (status, headers, out) = w.request(Format::Anthropic, body);
    assert_eq!(status, 429);
    assert_eq!(header(&headers, "retry-after"), Some("60"));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["type"], "error", "Anthropic's envelope: {out}");
    assert_eq!(v["error"]["type"], "rate_limit_error");
    assert_eq!(w.upstream.calls().len(), 2, "the refused request reached no upstream");
    let records = w.records.0.borrow();
    assert_eq!(records.len(), 3, "one usage record per request, refused ones too");
    assert_eq!((records[2].attempts, records[2].error_code.as_deref()), (0, Some("rate_limit_exceeded")));
}

#[test]
fn a_request_settles_its_real_cost_and_a_failed_one_releases_its_reservation() {
    let w = limited(vec![conn("a", "openai", 1), conn("b", "openai", 2)], r#"{"usd_per_day":10}"#);
    w.upstream.script("a", vec![Script::Answer(500, "{}", vec![]), Script::Answer(200, CHAT_OK, vec![])]);
    w.upstream.script("b", vec![Script::Answer(500, "{}", vec![]), Script::Answer(200, CHAT_OK, vec![])]);
    let now = w.clock.0.get();
    // Both accounts fail: the request settles at 0 and holds no budget afterwards.
    assert_eq!(w.chat("openai/gpt-4o", false).0 / 100, 5);
    assert_eq!(w.gate_calls(), vec!["reserve", "settle:0:0"]);
    assert_eq!((w.ledger().reserved(), w.ledger().spent(crate::limits::periods::Period::Day, now)), (0.0, 0.0));
    // The next succeeds: its recorded cost is what the ledger spent.
    assert_eq!(w.chat("openai/gpt-4o", false).0, 200);
    let cost = w.records.0.borrow()[1].cost_usd;
    assert!(cost > 0.0, "gpt-4o has a list price");
    assert_eq!(w.gate_calls()[2..], ["reserve".to_string(), format!("settle:1:{cost}")]);
    assert_eq!(w.ledger().spent(crate::limits::periods::Period::Day, now), cost);
}

#[test]
fn a_stream_settles_when_it_ends() {
    let w = limited(vec![conn("a", "openai", 1)], r#"{"tokens_per_minute":1000000}"#);
    w.upstream.script("a", vec![Script::Chunks(vec![Ok(STREAM_HEAD), Ok(STREAM_TAIL)])]);
    let ports = w.ports();
    let body = json!({"model": "openai/gpt-4o", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let inbound = Inbound { format: Format::OpenAiChat, arrived_at: w.clock.0.get(), ..Inbound::default() };
    let answer = block_on(run(&ports, &w.snapshot, inbound, Ok(body.to_string().into_bytes())));
    assert_eq!(w.gate_calls(), vec!["reserve"], "nothing settles while the stream is open");
    assert!(w.ledger().reserved() > 0.0 || w.records.0.borrow().is_empty());
    block_on(drain(answer.relay, &w.upstream));
    let record = w.only_record();
    assert_eq!(record.tokens.input + record.tokens.output, 6);
    assert_eq!(w.gate_calls(), vec!["reserve".to_string(), format!("settle:0:{}", record.cost_usd)]);
    assert_eq!(w.ledger().reserved(), 0.0);
}

#[test]
fn a_spent_budget_refuses_with_its_own_code_and_reset_time() {
    let w = limited(vec![conn("a", "openai", 1)], r#"{"usd_per_month":0.00001}"#);
    w.upstream.script("a", vec![Script::Answer(200, CHAT_OK, vec![])]);
    assert_eq!(w.chat("openai/gpt-4o", false).0, 200, "admitted while under budget");
    let (status, headers, out) = w.chat("openai/gpt-4o", false);
    assert_eq!(status, 429);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["error"]["code"], "budget_exhausted", "{out}");
    assert!(v["error"]["message"].as_str().unwrap().contains("monthly budget"), "{out}");
    let retry: u64 = header(&headers, "retry-after").unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 31 * 86_400);
    assert_eq!(w.upstream.calls().len(), 1);
    assert_eq!(w.records.0.borrow()[1].error_code.as_deref(), Some("budget_exhausted"));
}

#[test]
fn a_request_refused_before_planning_reserves_nothing() {
    let w = limited(vec![conn("a", "openai", 1)], r#"{"requests_per_minute":1}"#);
    w.view.cooling.borrow_mut().insert("a".into(), 5_000);
    assert_eq!(w.chat("openai/gpt-4o", false).0, 429);
    assert_eq!(w.chat("no-such-provider/x", false).0 / 100, 4);
    assert!(w.gate_calls().is_empty(), "cooling or unknown models use none of the key's rate");
    assert_eq!(w.records.0.borrow().len(), 2);
}

fn limited_conn(id: &str, priority: i64, limits: &str) -> crate::config::ConnectionRecord {
    crate::config::ConnectionRecord { limits: serde_json::from_str(limits).unwrap(), ..conn(id, "openai", priority) }
}

#[test]
fn a_connection_at_its_cap_is_skipped_for_the_next_account_without_counting_as_a_failure() {
    let w = limited(vec![limited_conn("a", 1, r#"{"max_concurrent":1}"#), conn("b", "openai", 2)], "{}");
    let stream = Script::Chunks(vec![Ok(STREAM_HEAD), Ok(STREAM_TAIL)]);
    w.upstream.script("a", vec![stream, Script::Answer(200, CHAT_OK, vec![])]);
    w.upstream.script("b", vec![Script::Answer(200, CHAT_OK, vec![])]);
    // A stream on `a` holds its slot until it ends.
    let ports = w.ports();
    let body = json!({"model": "openai/gpt-4o", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let inbound = Inbound { format: Format::OpenAiChat, arrived_at: w.clock.0.get(), ..Inbound::default() };
    let open = block_on(run(&ports, &w.snapshot, inbound, Ok(body.to_string().into_bytes())));
    let (status, headers, _) = w.chat("openai/gpt-4o", false);
    assert_eq!((status, header(&headers, "x-omniroute-connection")), (200, Some("b")));
    assert!(w.view.events.borrow().iter().all(|e| matches!(e, Event::Success { .. })), "a busy account is not failing");
    assert!(!w.gate_calls().contains(&"reserve".to_string()), "a key without limits reserves nothing");
    block_on(drain(open.relay, &w.upstream));
    assert_eq!(w.gate_calls(), ["acquire:a", "acquire:a", "release:a:0"], "released when the stream ended");
    let (_, headers, _) = w.chat("openai/gpt-4o", false);
    assert_eq!(header(&headers, "x-omniroute-connection"), Some("a"), "free again");
    assert_eq!(w.upstream.calls(), ["a:gpt-4o", "b:gpt-4o", "a:gpt-4o"]);
}

#[test]
fn when_every_account_is_busy_the_client_gets_429_and_no_upstream_call() {
    let w = limited(vec![limited_conn("a", 1, r#"{"min_gap_ms":2000}"#)], "{}");
    w.upstream.script("a", vec![Script::Answer(200, CHAT_OK, vec![])]);
    assert_eq!(w.chat("openai/gpt-4o", false).0, 200);
    let (status, headers, out) = w.chat("openai/gpt-4o", false);
    assert_eq!((status, header(&headers, "retry-after")), (429, Some("2")));
    assert!(out.contains("accounts_busy"), "{out}");
    assert_eq!(w.upstream.calls().len(), 1);
    assert_eq!(w.records.0.borrow().len(), 2);
}

#[test]
fn a_failed_attempt_gives_its_slot_back_before_the_next() {
    let w = limited(vec![limited_conn("a", 1, r#"{"max_concurrent":1}"#), conn("b", "openai", 2)], "{}");
    w.upstream.script("a", vec![Script::Answer(500, "{}", vec![])]);
    w.upstream.script("b", vec![Script::Answer(200, CHAT_OK, vec![])]);
    assert_eq!(w.chat("openai/gpt-4o", false).0, 200);
    assert_eq!(w.gate_calls(), ["acquire:a", "release:a:0"]);
    assert_eq!(w.gate.as_ref().unwrap().slots.borrow()["a"].in_flight(), 0);
}

#[test]
fn with_a_wait_setting_an_attempt_waits_for_its_connection_up_to_the_bound() {
    let mut w = limited(vec![limited_conn("a", 1, r#"{"min_gap_ms":300}"#), conn("b", "openai", 2)], "{}");
    w.snapshot.settings.connection_wait_ms = 500;
    w.upstream.script("a", vec![Script::Answer(200, CHAT_OK, vec![])]);
    w.upstream.script("b", vec![Script::Answer(200, CHAT_OK, vec![])]);
    let start = w.clock.0.get();
    w.chat("openai/gpt-4o", false);
    let (_, headers, _) = w.chat("openai/gpt-4o", false);
    assert_eq!(header(&headers, "x-omniroute-connection"), Some("a"), "waited 300 ms for `a`");
    assert_eq!(w.clock.0.get() - start, 300);
    w.snapshot.settings.connection_wait_ms = 100;
    let (_, headers, _) = w.chat("openai/gpt-4o", false);
    assert_eq!(header(&headers, "x-omniroute-connection"), Some("b"), "300 ms is past the bound: next account");
}

#[test]
fn an_answer_announcing_its_quota_reports_it_for_the_connection() {
    let w = World::new(vec![conn("a", "openai", 1)]);
    let headers = vec![("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-reset-requests", "2s")];
    w.upstream.script("a", vec![Script::Answer(200, CHAT_OK, headers)]);
    assert_eq!(w.chat("openai/gpt-4o", false).0, 200);
    let events = w.view.events.borrow();
    let quota = events.iter().find_map(|e| match e {
        Event::Quota { connection, model, quota } if connection == "a" && model == "gpt-4o" => Some(*quota),
        _ => None,
    });
    let now = w.clock.0.get();
    assert_eq!(quota.and_then(|q| q.exhausted_until(now)), Some(now + 2_000));
    drop(events);
    // Answers without quota headers report none.
    let w = World::new(vec![conn("a", "openai", 1)]);
    w.upstream.script("a", vec![Script::Answer(200, CHAT_OK, vec![])]);
    w.chat("openai/gpt-4o", false);
    assert!(!w.view.events.borrow().iter().any(|e| matches!(e, Event::Quota { .. })));
}

fn replaying(conns: Vec<crate::config::ConnectionRecord>) -> World {
    let mut w = World::new(conns);
    w.replays = Some(ScriptedReplays::new(w.clock.clone()));
    w
}

fn deterministic_chat(stream: bool) -> serde_json::Value {
    json!({"model": "openai/gpt-4o", "stream": stream, "temperature": 0, "messages": [{"role": "user", "content": "hi"}]})
}

#[test]
fn a_deterministic_request_is_answered_from_the_cache_the_second_time_whole_or_streamed() {
    for stream in [false, true] {
        let w = replaying(vec![conn("a", "openai", 1)]);
        let answer = if stream {
            Script::Chunks(vec![Ok(STREAM_HEAD), Ok(STREAM_TAIL)])
        } else {
            Script::Answer(200, CHAT_OK, vec![])
        };
        w.upstream.script("a", vec![answer]);
        let (s1, h1, b1) = w.request(Format::OpenAiChat, deterministic_chat(stream));
        let (s2, h2, b2) = w.request(Format::OpenAiChat, deterministic_chat(stream));
        assert_eq!((s1, s2), (200, 200));
        assert_eq!(w.upstream.calls().len(), 1, "the second is a hit (stream: {stream})");
        assert_eq!(b1, b2, "the same bytes, the same event sequence");
        assert_eq!((header(&h1, "x-omniroute-cache"), header(&h2, "x-omniroute-cache")), (Some("MISS"), Some("HIT")));
        assert_eq!(header(&h2, "x-omniroute-provider"), Some("openai"), "the answer's own headers are kept");
        assert_ne!(header(&h1, "x-request-id"), None);
        assert_eq!(header(&h2, "content-type"), header(&h1, "content-type"));
        let records = w.records.0.borrow();
        assert_eq!(records.len(), 2);
        let (miss, hit) = (&records[0], &records[1]);
        assert_eq!((miss.cache.as_deref(), hit.cache.as_deref()), (Some("miss"), Some("hit")));
        assert!(miss.cost_usd > 0.0);
        assert_eq!((hit.cost_usd, hit.attempts, hit.tokens), (0.0, 0, miss.tokens), "metered, costing nothing");
        assert_eq!(
            header(&h2, "x-omniroute-cost-saved").map(|v| v.parse::<f64>().unwrap()),
            Some((miss.cost_usd * 1e6).round() / 1e6)
        );
    }
}

#[test]
fn non_deterministic_bypassed_failed_and_cut_answers_are_not_cached() {
    let w = replaying(vec![conn("a", "openai", 1)]);
    w.upstream.script("a", vec![Script::Answer(200, CHAT_OK, vec![])]);
    let warm = json!({"model": "openai/gpt-4o", "temperature": 0.7, "messages": [{"role": "user", "content": "hi"}]});
    w.request(Format::OpenAiChat, warm.clone());
    let (_, h, _) = w.request(Format::OpenAiChat, warm.clone());
    assert_eq!((w.upstream.calls().len(), header(&h, "x-omniroute-cache")), (2, None));
    let (_, h, _) = w.request_with(Format::OpenAiChat, warm.clone(), |i| i.cache_ask = CacheAsk::Force);
    assert_eq!(header(&h, "x-omniroute-cache"), Some("MISS"), "opted in");
    let (_, h, _) = w.request_with(Format::OpenAiChat, warm, |i| i.cache_ask = CacheAsk::Force);
    assert_eq!((w.upstream.calls().len(), header(&h, "x-omniroute-cache")), (3, Some("HIT")));
    w.request(Format::OpenAiChat, deterministic_chat(false));
    let (_, h, _) = w.request_with(Format::OpenAiChat, deterministic_chat(false), |i| i.cache_ask = CacheAsk::Bypass);
    assert_eq!((w.upstream.calls().len(), header(&h, "x-omniroute-cache")), (5, Some("BYPASS")));
    assert_eq!(w.records.0.borrow().last().unwrap().cache.as_deref(), Some("bypass"));

    let w = replaying(vec![conn("a", "openai", 1)]);
    w.upstream.script(
        "a",
        vec![
            Script::Answer(500, r#"{"error":{"message":"down"}}"#, vec![]),
            Script::Chunks(vec![Ok(STREAM_HEAD), Err("reset")]),
            Script::Answer(200, CHAT_OK, vec![]),
        ],
    );
    assert_eq!(w.request(Format::OpenAiChat, deterministic_chat(false)).0, 502);
    w.request(Format::OpenAiChat, deterministic_chat(true));
    assert!(w.replays.as_ref().unwrap().cache.borrow().is_empty(), "neither the error nor the cut stream");

    let mut w = replaying(vec![conn("a", "openai", 1)]);
    w.snapshot.settings.response_cache = false;
    w.upstream.script("a", vec![Script::Answer(200, CHAT_OK, vec![])]);
    w.request(Format::OpenAiChat, deterministic_chat(false));
    let (_, h, _) = w.request(Format::OpenAiChat, deterministic_chat(false));
    assert_eq!((w.upstream.calls().len(), header(&h, "x-omniroute-cache")), (2, None), "the setting turns it off");
}

#[test]
fn a_repeated_idempotency_key_replays_the_first_answer_within_its_window() {
    let w = replaying(vec![conn("a", "openai", 1)]);
    w.upstream.script("a", vec![Script::Answer(200, CHAT_OK, vec![])]);
    let body = json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    let keyed = |i: &mut Inbound| i.idempotency_key = Some("order-1".into());
    let (_, h1, b1) = w.request_with(Format::OpenAiChat, body.clone(), keyed);
    let (s2, h2, b2) = w.request_with(Format::OpenAiChat, body.clone(), keyed);
    assert_eq!((s2, b2), (200, b1), "the first request's answer");
    assert_eq!(w.upstream.calls().len(), 1);
    assert_eq!((header(&h1, "x-omniroute-idempotent"), header(&h2, "x-omniroute-idempotent")), (None, Some("true")));
    assert_eq!(w.records.0.borrow()[1].cache.as_deref(), Some("replay"));
    // Another body under the same key: refused in the client's format, no upstream call.
    let other = json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "bye"}]});
    let (s, _, b) = w.request_with(Format::OpenAiChat, other, keyed);
    assert_eq!(s, 422);
    assert!(b.contains("idempotency_key_reused"), "{b}");
    // Past the window, the key starts a new request.
    w.clock.0.set(w.clock.0.get() + 5_000);
    w.request_with(Format::OpenAiChat, body, keyed);
    assert_eq!(w.upstream.calls().len(), 2);
}

#[test]
fn a_failed_first_request_releases_its_idempotency_key_so_a_retry_calls_upstream() {
    let w = replaying(vec![conn("a", "openai", 1)]);
    w.upstream.script(
        "a",
        vec![Script::Answer(500, r#"{"error":{"message":"down"}}"#, vec![]), Script::Answer(200, CHAT_OK, vec![])],
    );
    let keyed = |i: &mut Inbound| i.idempotency_key = Some("k".into());
    let body = json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(w.request_with(Format::OpenAiChat, body.clone(), keyed).0, 502);
    assert_eq!(w.request_with(Format::OpenAiChat, body.clone(), keyed).0, 200);
    assert_eq!(w.upstream.calls().len(), 2);
    let (_, h, _) = w.request_with(Format::OpenAiChat, body, keyed);
    assert_eq!((w.upstream.calls().len(), header(&h, "x-omniroute-idempotent")), (2, Some("true")));
}

#[test]
fn a_duplicate_of_a_request_still_running_waits_for_it() {
    // The first request's stream is not read to its end yet, so its key is held; the duplicate
    // polls (the scripted pause advances the clock) until the lease runs out and then calls
    // upstream itself: the bound on how long a lost claim blocks its key.
    let w = replaying(vec![conn("a", "openai", 1)]);
    w.upstream.script("a", vec![Script::Chunks(vec![Ok(STREAM_HEAD), Ok(STREAM_TAIL)])]);
    let keyed = |i: &mut Inbound| i.idempotency_key = Some("k".into());
    let ports = w.ports();
    let inbound = Inbound {
        format: Format::OpenAiChat,
        endpoint: "/v1/chat/completions".into(),
        key_id: "key_1".into(),
        idempotency_key: Some("k".into()),
        ..Inbound::default()
    };
    let body = deterministic_chat(true).to_string().into_bytes();
    let first = block_on(run(&ports, &w.snapshot, inbound, Ok(body)));
    let start = w.clock.0.get();
    let (status, _, _) = w.request_with(Format::OpenAiChat, deterministic_chat(true), keyed);
    assert_eq!(status, 200);
    let waited = w.clock.0.get() - start;
    assert!((reuse::CLAIM_LEASE_MS..reuse::CLAIM_LEASE_MS + 500).contains(&waited), "waited out the lease: {waited}");
    assert_eq!(w.upstream.calls().len(), 2);
    drop(first);
}

#[test]
fn an_account_running_low_hands_over_until_its_window_resets_or_the_other_runs_lower() {
    let w = World::new(vec![conn("a", "openai", 1), conn("b", "openai", 2)]);
    let low = vec![
        ("x-ratelimit-limit-requests", "100"),
        ("x-ratelimit-remaining-requests", "5"),
        ("x-ratelimit-reset-requests", "1m"),
    ];
    let plenty = vec![
        ("x-ratelimit-limit-requests", "100"),
        ("x-ratelimit-remaining-requests", "60"),
        ("x-ratelimit-reset-requests", "1h"),
    ];
    let lower = vec![
        ("x-ratelimit-limit-requests", "100"),
        ("x-ratelimit-remaining-requests", "2"),
        ("x-ratelimit-reset-requests", "1h"),
    ];
    w.upstream.script("a", vec![Script::Answer(200, CHAT_OK, low)]);
    w.upstream.script("b", vec![Script::Answer(200, CHAT_OK, plenty.clone()), Script::Answer(200, CHAT_OK, lower)]);
    let served = || header(&w.chat("openai/gpt-4o", false).1, "x-omniroute-connection").map(str::to_string);
    assert_eq!(served().as_deref(), Some("a"), "nothing known yet: priority");
    assert_eq!(served().as_deref(), Some("b"), "`a` has 5% left");
    w.clock.0.set(w.clock.0.get() + 61_000);
    assert_eq!(served().as_deref(), Some("a"), "`a`'s window has reset; `b` has 60% left, not low");
    assert_eq!(served().as_deref(), Some("b"), "`a` is low again");
    assert_eq!(served().as_deref(), Some("a"), "`b` said 2% left: `a` has more");
    assert_eq!(w.upstream.calls().len(), 5, "no call was wasted");
}

#[path = "service_tests.rs"]
mod services;

fn storing(conns: Vec<crate::config::ConnectionRecord>, transient: bool) -> World {
    let mut w = World::new(conns);
    w.responses = Some(ScriptedResponses::new(w.clock.clone(), transient));
    w
}

const RESPONSE_OK: &str = r#"{"id":"resp_up2","object":"response","status":"completed","model":"m","output":[{"id":"msg_up","type":"message","role":"assistant","status":"completed","content":[{"type":"output_text","text":"again","annotations":[]}]}],"usage":{"input_tokens":5,"output_tokens":1,"total_tokens":6}}"#;

fn chain_ids(w: &World, id: &str) -> Option<Vec<String>> {
    let turns = block_on(w.responses.as_ref().unwrap().chain(id)).unwrap()?;
    Some(turns.into_iter().map(|t| t.id).collect())
}

#[test]
fn a_request_continues_a_stored_conversation_whatever_format_served_it() {
    let w = storing(vec![conn("a", "openai", 1), conn("b", "openai-responses", 1)], false);
    w.upstream.script("a", vec![Script::Answer(200, CHAT_OK, vec![])]);
    w.upstream.script("b", vec![Script::Answer(200, RESPONSE_OK, vec![])]);
    // Turn 1, translated from a Chat upstream, stored by default.
    let (status, _, body) = w.request(Format::OpenAiResponses, json!({"model": "openai/gpt-4o", "input": "hi"}));
    assert_eq!(status, 200, "{body}");
    let first: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = first["id"].as_str().unwrap().to_string();
    // Turn 2 names it; a Responses upstream (same format) gets the whole conversation, not the id.
    let next = json!({"model": "openai-responses/gpt-4o", "previous_response_id": id, "input": "again?",
        "instructions": "be brief"});
    let (status, _, body) = w.request(Format::OpenAiResponses, next);
    assert_eq!(status, 200, "{body}");
    let sent: serde_json::Value = serde_json::from_slice(&w.upstream.sent.borrow()[1].body).unwrap();
    assert!(sent.get("previous_response_id").is_none());
    assert_eq!(sent["instructions"], "be brief");
    let input = sent["input"].as_array().unwrap();
    assert_eq!(input.len(), 3, "{input:?}");
    assert_eq!(input[0], json!({"type": "message", "role": "user", "content": "hi"}));
    assert_eq!(input[1], first["output"][0], "turn 1's output, as its client got it");
    assert_eq!(input[2], json!({"type": "message", "role": "user", "content": "again?"}));
    assert_eq!(chain_ids(&w, "resp_up2").unwrap(), [id.clone(), "resp_up2".to_string()]);
    // What is kept says what it continued.
    let turns = block_on(w.responses.as_ref().unwrap().chain("resp_up2")).unwrap().unwrap();
    assert_eq!(turns[1].response["previous_response_id"], json!(id));
    assert_eq!(turns[1].response["store"], true);
    assert_eq!(turns[1].input, vec![json!({"type": "message", "role": "user", "content": "again?"})]);
    // Turn 3, back on the Chat upstream: its messages are the three turns before plus the new one.
    let third = json!({"model": "openai/gpt-4o", "previous_response_id": "resp_up2", "input": "and?", "store": false});
    assert_eq!(w.request(Format::OpenAiResponses, third).0, 200);
    let sent: serde_json::Value = serde_json::from_slice(&w.upstream.sent.borrow()[2].body).unwrap();
    let roles: Vec<&str> = sent["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant", "user"]);
    assert_eq!(w.responses.as_ref().unwrap().kept.borrow().len(), 2, "`store: false` is not kept");
}

#[test]
fn an_unknown_previous_response_is_the_apis_404_and_calls_no_upstream() {
    let w = storing(vec![conn("a", "openai", 1)], false);
    w.upstream.script("a", vec![Script::Answer(200, CHAT_OK, vec![])]);
    let (status, _, body) = w.request(
        Format::OpenAiResponses,
        json!({"model": "openai/gpt-4o", "previous_response_id": "resp_nope", "input": "x"}),
    );
    assert_eq!(status, 404);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "previous_response_not_found");
    assert_eq!(v["error"]["message"], "Previous response with id 'resp_nope' not found.");
    assert!(w.upstream.calls().is_empty());
    let record = w.only_record();
    assert_eq!(record.error_code.as_deref(), Some("previous_response_not_found"));
    assert_eq!(record.requested_model, "openai/gpt-4o");
}

#[test]
fn a_streamed_answer_is_kept_from_its_final_event_and_failures_are_not_kept() {
    let w = storing(vec![conn("a", "openai", 1)], true);
    w.upstream.script("a", vec![Script::Chunks(vec![Ok(STREAM_HEAD), Ok(STREAM_TAIL)])]);
    let req = json!({"model": "openai/gpt-4o", "input": "hi", "stream": true, "store": false});
    let (status, _, body) = w.request(Format::OpenAiResponses, req.clone());
    assert_eq!(status, 200);
    let kept = w.responses.as_ref().unwrap().kept.borrow().clone();
    assert_eq!(kept.len(), 1, "a connection keeps its turns even with `store: false`");
    assert!(!kept[0].1, "but not durably");
    let turns = block_on(w.responses.as_ref().unwrap().chain(&kept[0].0)).unwrap().unwrap();
    assert_eq!(turns[0].response["output"][0]["content"][0]["text"], "Hello");
    assert!(body.contains(&kept[0].0), "the id the client saw");
    // A stream cut mid-way keeps nothing.
    w.upstream.script("a", vec![Script::Chunks(vec![Ok(STREAM_HEAD), Err("reset")])]);
    w.request(Format::OpenAiResponses, req);
    assert_eq!(w.responses.as_ref().unwrap().kept.borrow().len(), 1);
    // Other formats are not looked at.
    w.upstream.script("a", vec![Script::Answer(200, CHAT_OK, vec![])]);
    w.chat("openai/gpt-4o", false);
    assert_eq!(w.responses.as_ref().unwrap().kept.borrow().len(), 1);
}

/// Native timing of the core's own work for one non-streaming same-format request (scripted ports,
/// no I/O): what the pipeline costs a passthrough before wasm and the runtime. Not a check; run with
/// `cargo test --release --lib timing_of -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing_of_a_passthrough_run() {
    let w = World::new(vec![conn("a", "openai", 1)]);
    let runs = 20_000;
    let start = std::time::Instant::now();
    for _ in 0..runs {
        w.upstream.script("a", vec![Script::Answer(200, CHAT_OK, vec![("content-type", "application/json")])]);
        let (status, _, _) = w.chat("openai/gpt-4o-mini", false);
        assert_eq!(status, 200);
        w.records.0.borrow_mut().clear();
    }
    let us = start.elapsed().as_secs_f64() * 1e6 / f64::from(runs);
    println!("pipeline::run of a non-streaming passthrough, natively: {us:.1} µs a request");
}

#[test]
fn a_cached_answer_made_outside_the_asking_keys_scopes_is_a_miss_not_a_refusal() {
    use crate::config::key_access::{KeyAccess, Scopes};
    let key = |providers: &[&str], connections: &[&str]| KeyAccess {
        scopes: Scopes {
            providers: providers.iter().map(|p| p.to_string()).collect(),
            connections: connections.iter().map(|c| c.to_string()).collect(),
            ..Scopes::default()
        },
        ..KeyAccess::default()
    };
    let mut w = replaying(vec![conn("g", "groq", 1), conn("a", "openai", 1), conn("b", "openai", 2)]);
    w.combo(json!({"name": "duo", "targets": [{"model": "groq/llama-3.3-70b-versatile"}, {"model": "openai/gpt-4o"}]}));
    for id in ["g", "a", "b"] {
        w.upstream.script(id, vec![Script::Answer(200, CHAT_OK, vec![]), Script::Answer(200, CHAT_OK, vec![])]);
    }
    let body = json!({"model": "duo", "temperature": 0, "messages": [{"role": "user", "content": "hi"}]});
    let ask = |access: KeyAccess| {
        let (status, h, _) = w.request_with(Format::OpenAiChat, body.clone(), |i| i.access = access);
        (status, header(&h, "x-omniroute-cache").map(str::to_string))
    };
    assert_eq!(ask(KeyAccess::default()), (200, Some("MISS".into())), "an open key caches groq's answer");
    assert_eq!(ask(key(&["openai"], &[])), (200, Some("MISS".into())), "served by openai instead of refused");
    assert_eq!(w.upstream.calls(), vec!["g:llama-3.3-70b-versatile", "a:gpt-4o"]);
    // The cache now holds openai's answer (through `a`): it fits a key scoped to `a`, not one that excludes it.
    assert_eq!(ask(key(&[], &["a"])), (200, Some("HIT".into())));
    assert_eq!(ask(key(&["openai"], &["!a"])), (200, Some("MISS".into())));
    assert_eq!(w.upstream.calls().last().map(String::as_str), Some("b:gpt-4o"));
    assert_eq!(ask(KeyAccess::default()), (200, Some("HIT".into())), "an open key takes any answer");
}
