//! The service endpoints through the same pipeline as chat, against scripted ports: routing by
//! model kind, fallback between providers of different wires, reuse, streamed audio, metering.

use super::*;
use crate::providers::ModelKind;

const EMBEDDING_OK: &str = r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":5,"total_tokens":5}}"#;
const GEMINI_EMBEDDINGS: &str = r#"{"embeddings":[{"values":[0.5,0.25]}]}"#;

impl World {
    /// Runs a request to the service endpoint of `kind` with `body` as sent (JSON or a form).
    fn service(&self, kind: ModelKind, body: &[u8], content_type: &str) -> (u16, Vec<(String, String)>, String) {
        self.service_with(kind, body, content_type, |_| {})
    }

    /// [`World::service`] with what the platform read of the request's headers changed by `f`.
    fn service_with(
        &self,
        kind: ModelKind,
        body: &[u8],
        content_type: &str,
        f: impl FnOnce(&mut Inbound),
    ) -> (u16, Vec<(String, String)>, String) {
        let mut inbound = Inbound {
            format: Format::OpenAiChat,
            kind,
            content_type: Some(content_type.into()),
            endpoint: kind.endpoint().into(),
            key_id: "key_1".into(),
            arrived_at: self.clock.0.get(),
            ..Inbound::default()
        };
        f(&mut inbound);
        let answer = block_on(run(&self.ports(), &self.snapshot, inbound, Ok(body.to_vec())));
        let text = block_on(drain(answer.relay, &self.upstream));
        (answer.status, answer.headers, text)
    }

    fn json(&self, kind: ModelKind, body: serde_json::Value) -> (u16, Vec<(String, String)>, String) {
        self.service(kind, body.to_string().as_bytes(), "application/json")
    }
}

#[test]
fn embeddings_fall_back_from_an_openai_wire_to_gemini_and_come_back_in_openai_shape() {
    let mut w = World::new(vec![conn("a", "openai", 1), conn("g", "gemini", 1)]);
    w.combo(json!({"name": "vectors", "targets": [{"model": "openai/text-embedding-3-small"}, {"model": "gemini/gemini-embedding-001"}]}));
    w.upstream.script("a", vec![Script::Answer(503, r#"{"error":{"message":"overloaded"}}"#, vec![])]);
    w.upstream.script("g", vec![Script::Answer(200, GEMINI_EMBEDDINGS, vec![("content-type", "application/json")])]);
    let (status, headers, body) =
        w.json(ModelKind::Embedding, json!({"model": "vectors", "input": "sixteen chars!!!"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(w.upstream.calls(), ["a:text-embedding-3-small", "g:gemini-embedding-001"]);
    let sent = w.upstream.sent.borrow();
    assert_eq!(sent[0].url, "https://api.openai.com/v1/embeddings");
    assert_eq!(
        sent[1].url,
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-embedding-001:batchEmbedContents"
    );
    assert_eq!(sent[1].auth.0, "x-goog-api-key");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["data"][0]["embedding"], json!([0.5, 0.25]));
    assert_eq!((v["object"].as_str(), v["model"].as_str()), (Some("list"), Some("vectors")));
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    assert_eq!(header(&headers, "x-omniroute-provider"), Some("gemini"));
    let r = w.only_record();
    assert_eq!(
        (r.status, r.attempts, r.endpoint.as_str(), r.combo.as_deref()),
        (200, 2, "/v1/embeddings", Some("vectors"))
    );
    assert_eq!(
        (r.tokens.input, r.tokens.output, r.tokens.estimated),
        (4, 0, true),
        "Gemini reports no usage: 16 chars"
    );
}

#[test]
fn an_openai_wire_answer_goes_back_byte_for_byte_and_is_metered_from_its_usage() {
    let w = World::new(vec![conn("a", "openai", 1)]);
    w.upstream.script("a", vec![Script::Answer(200, EMBEDDING_OK, vec![("content-type", "application/json")])]);
    let raw = br#"{"model":"openai/text-embedding-3-small","input":["a"],"encoding_format":"base64"}"#;
    let (status, _, body) = w.service(ModelKind::Embedding, raw, "application/json");
    assert_eq!((status, body.as_str()), (200, EMBEDDING_OK));
    let sent = String::from_utf8(w.upstream.sent.borrow()[0].body.clone()).unwrap();
    assert_eq!(sent, r#"{"model":"text-embedding-3-small","input":["a"],"encoding_format":"base64"}"#);
    let r = w.only_record();
    assert_eq!((r.tokens.input, r.tokens.estimated, r.streamed), (5, false, false));
    assert!(r.cost_usd > 0.0, "text-embedding-3-small has a list price");
}

#[test]
fn a_model_of_the_wrong_kind_is_a_400_before_any_upstream_call() {
    let w = World::new(vec![conn("a", "openai", 1), conn("q", "groq", 1)]);
    for (kind, model, says) in [
        (ModelKind::Embedding, "openai/gpt-4o", "is a chat model"),
        (ModelKind::Rerank, "groq/llama-3.3-70b-versatile", "`groq` offers no rerank models"),
    ] {
        let body = json!({"model": model, "input": "x", "query": "q", "documents": ["d"]});
        let (status, _, body) = w.json(kind, body);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (status, v["error"]["code"].as_str(), v["error"]["param"].as_str()),
            (400, Some("wrong_model_kind"), Some("model"))
        );
        assert!(v["error"]["message"].as_str().unwrap().contains(says), "{body}");
    }
    let (status, _, _) = w.chat("openai/text-embedding-3-small", false);
    assert_eq!(status, 400, "and the other way round");
    assert!(w.upstream.calls().is_empty());
    assert_eq!(w.records.0.borrow().len(), 3, "each refused request is recorded");
}

#[test]
fn embeddings_are_cached_and_served_again_without_a_call() {
    let mut w = World::new(vec![conn("a", "openai", 1)]);
    w.replays = Some(ScriptedReplays::new(w.clock.clone()));
    w.upstream.script("a", vec![Script::Answer(200, EMBEDDING_OK, vec![])]);
    let body = json!({"model": "openai/text-embedding-3-small", "input": "same"});
    let (_, first, _) = w.json(ModelKind::Embedding, body.clone());
    let (status, again, text) = w.json(ModelKind::Embedding, body);
    assert_eq!((status, text.as_str()), (200, EMBEDDING_OK));
    assert_eq!((header(&first, "x-omniroute-cache"), header(&again, "x-omniroute-cache")), (Some("MISS"), Some("HIT")));
    assert_eq!(w.upstream.calls().len(), 1);
    // Images are not the same answer twice: never cached unless forced.
    w.upstream.script("a", vec![Script::Answer(200, r#"{"created":1,"data":[{"url":"https://x/1.png"}]}"#, vec![])]);
    let image = json!({"model": "openai/dall-e-3", "prompt": "a cat"});
    let (_, headers, _) = w.json(ModelKind::Image, image);
    assert_eq!(header(&headers, "x-omniroute-cache"), None);
}

#[test]
fn speech_is_piped_as_it_comes_and_a_cut_one_is_aborted_not_closed() {
    let speech = json!({"model": "openai/tts-1", "input": "hello", "voice": "alloy"});
    let w = World::new(vec![conn("a", "openai", 1)]);
    w.upstream.script("a", vec![Script::Chunks(vec![Ok("RIFF-part-1;"), Ok("part-2")])]);
    let (status, _, body) = w.json(ModelKind::Speech, speech.clone());
    assert_eq!((status, body.as_str()), (200, "RIFF-part-1;part-2"));
    assert_eq!(
        w.upstream.sent.borrow()[0].headers.iter().find(|(k, _)| k == "accept").map(|(_, v)| v.as_str()),
        Some("*/*")
    );
    let r = w.only_record();
    assert_eq!((r.streamed, r.error_code.as_deref(), r.tokens.input), (true, None, 0));

    let w = World::new(vec![conn("a", "openai", 1)]);
    w.upstream.script("a", vec![Script::Chunks(vec![Ok("RIFF"), Err("connection reset")])]);
    let (_, _, body) = w.json(ModelKind::Speech, speech.clone());
    assert_eq!(body, "RIFF<aborted>", "no error event is appended to audio");
    assert_eq!(w.only_record().error_code.as_deref(), Some("upstream_cut"));

    // With another account left, a stream that fails before its first byte falls back.
    let w = World::new(vec![conn("a", "openai", 1), conn("b", "openai", 2)]);
    w.upstream.script("a", vec![Script::Chunks(vec![Err("reset")])]);
    w.upstream.script("b", vec![Script::Chunks(vec![Ok("RIFF"), Ok("!")])]);
    let (_, headers, body) = w.json(ModelKind::Speech, speech.clone());
    assert_eq!((body.as_str(), header(&headers, "x-omniroute-attempts")), ("RIFF!", Some("2")));
    // … and one cut after its first byte (held for fallback, then written) is aborted too.
    let w = World::new(vec![conn("a", "openai", 1), conn("b", "openai", 2)]);
    w.upstream.script("a", vec![Script::Chunks(vec![Ok("RIFF"), Err("reset")])]);
    assert_eq!(w.json(ModelKind::Speech, speech).2, "RIFF<aborted>");
}

#[test]
fn a_transcription_form_goes_upstream_with_its_model_rewritten_and_a_malformed_one_is_a_400() {
    let form = b"--b0\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\ngroq/whisper-large-v3\r\n--b0\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\nRIFF\r\n--b0--\r\n";
    let w = World::new(vec![conn("q", "groq", 1)]);
    w.upstream.script("q", vec![Script::Answer(200, r#"{"text":"hello"}"#, vec![])]);
    let (status, _, body) = w.service(ModelKind::Transcription, form, "multipart/form-data; boundary=b0");
    assert_eq!((status, body.as_str()), (200, r#"{"text":"hello"}"#));
    let call = w.upstream.sent.borrow()[0].clone();
    assert_eq!(call.url, "https://api.groq.com/openai/v1/audio/transcriptions");
    let ct = call.headers.iter().find(|(k, _)| k == "content-type").map(|(_, v)| v.clone()).unwrap();
    let sent =
        crate::services::multipart::parse(&call.body, &crate::services::multipart::boundary(&ct).unwrap()).unwrap();
    assert_eq!(sent.text("model"), Some("whisper-large-v3"));

    let w = World::new(vec![conn("q", "groq", 1)]);
    let (status, _, body) = w.service(ModelKind::Transcription, &form[..60], "multipart/form-data; boundary=b0");
    assert_eq!(status, 400);
    assert!(body.contains("invalid_multipart"), "{body}");
    assert!(w.upstream.calls().is_empty());
    assert_eq!(w.only_record().status, 400);
}

#[test]
fn a_repeated_upload_under_one_idempotency_key_is_answered_once_and_another_file_is_refused() {
    let upload = |audio: &str| {
        format!("--b0\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nopenai/whisper-1\r\n--b0\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n{audio}\r\n--b0--\r\n")
    };
    let mut w = World::new(vec![conn("a", "openai", 1)]);
    w.replays = Some(ScriptedReplays::new(w.clock.clone()));
    w.upstream.script("a", vec![Script::Answer(200, r#"{"text":"hello"}"#, vec![])]);
    let keyed = |i: &mut Inbound| i.idempotency_key = Some("upload-1".into());
    let form = "multipart/form-data; boundary=b0";
    let (_, _, first) = w.service_with(ModelKind::Transcription, upload("RIFF-1").as_bytes(), form, keyed);
    let (status, headers, again) = w.service_with(ModelKind::Transcription, upload("RIFF-1").as_bytes(), form, keyed);
    assert_eq!(
        (status, again.as_str(), header(&headers, "x-omniroute-idempotent")),
        (200, first.as_str(), Some("true"))
    );
    assert_eq!(w.upstream.calls().len(), 1);
    let (status, _, body) = w.service_with(ModelKind::Transcription, upload("RIFF-2").as_bytes(), form, keyed);
    assert_eq!(status, 422, "the same fields with another file are another request: {body}");
}

#[test]
fn rerank_through_a_voyage_wire_is_translated_and_metered_from_its_usage() {
    let w = World::new(vec![conn("v", "voyage", 1)]);
    let voyage = r#"{"object":"list","data":[{"relevance_score":0.9,"index":1}],"model":"rerank-2.5","usage":{"total_tokens":21}}"#;
    w.upstream.script("v", vec![Script::Answer(200, voyage, vec![])]);
    let (status, _, body) = w.json(
        ModelKind::Rerank,
        json!({"model": "voyage/rerank-2.5", "query": "q", "documents": ["a", "b"], "top_n": 1}),
    );
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["results"], json!([{"index": 1, "relevance_score": 0.9}]));
    assert_eq!(w.upstream.sent.borrow()[0].url, "https://api.voyageai.com/v1/rerank");
    let r = w.only_record();
    assert_eq!((r.tokens.input, r.tokens.estimated), (21, false));
}

#[test]
fn an_unreadable_answer_is_another_attempts_turn() {
    let w = World::new(vec![conn("a", "openai", 1), conn("b", "openai", 2)]);
    w.upstream.script("a", vec![Script::Answer(200, "<html>maintenance</html>", vec![])]);
    w.upstream.script("b", vec![Script::Answer(200, r#"{"id":"m","results":[{"flagged":false}]}"#, vec![])]);
    let (status, _, body) = w.json(ModelKind::Moderation, json!({"input": "hello"}));
    assert_eq!((status, body.contains("flagged")), (200, true));
    assert_eq!(
        w.upstream.calls(),
        ["a:omni-moderation-latest", "b:omni-moderation-latest"],
        "no model: OpenAI's default"
    );
}
