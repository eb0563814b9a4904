// Translator playground: a request in any client format, shown in every upstream format
// (`POST /api/translate`); then sent through the gateway with a gateway key, showing each step: the
// attempts and who served it (response headers), the answer, and the request's log record.
import { useState } from "preact/hooks";
import { api, type LogRecord, type TranslateFormat } from "../api";
import { pretty } from "../format";
import { getGatewayKey, send, type Sent } from "../gateway";
import { t } from "../i18n";
import { ErrorText, Field, Pill, Section, Snippet, useAction } from "../ui";
import { KeyField } from "./key_field";
import { LogRecordView } from "./logs";

const FORMATS: { id: TranslateFormat; label: string; path: (model: string) => string }[] = [
  { id: "openai-chat", label: "OpenAI Chat", path: () => "/v1/chat/completions" },
  { id: "openai-responses", label: "OpenAI Responses", path: () => "/v1/responses" },
  { id: "anthropic", label: "Anthropic Messages", path: () => "/v1/messages" },
  { id: "gemini", label: "Gemini", path: (m) => `/v1beta/models/${encodeURIComponent(m)}:generateContent` },
];

const SAMPLES: Record<TranslateFormat, (model: string) => unknown> = {
  "openai-chat": (model) => ({ model, max_tokens: 100, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hello!" }] }),
  "openai-responses": (model) => ({ model, max_output_tokens: 100, instructions: "Be brief.", input: "Hello!" }),
  anthropic: (model) => ({ model, max_tokens: 100, system: "Be brief.", messages: [{ role: "user", content: "Hello!" }] }),
  gemini: () => ({ systemInstruction: { parts: [{ text: "Be brief." }] }, contents: [{ role: "user", parts: [{ text: "Hello!" }] }], generationConfig: { maxOutputTokens: 100 } }),
};

export function Playground() {
  const [format, setFormat] = useState<TranslateFormat>("openai-chat");
  const [model, setModel] = useState("openai/gpt-4o-mini");
  const [text, setText] = useState(JSON.stringify(SAMPLES["openai-chat"]("openai/gpt-4o-mini"), null, 2));
  const [translated, setTranslated] = useState<Record<string, unknown> | null>(null);
  const [sent, setSent] = useState<Sent | null>(null);
  const [record, setRecord] = useState<LogRecord | null>(null);
  const [error, run] = useAction();
  const parsed = () => {
    try { return JSON.parse(text); } catch (e) { throw new Error(t("The request is not valid JSON: {error}", { error: (e as Error).message })); }
  };
  const pick = (f: TranslateFormat) => { setFormat(f); setText(JSON.stringify(SAMPLES[f](model), null, 2)); setTranslated(null); };
  const translate = () => run(async () => {
    setTranslated((await api("POST /api/translate", { body: { format, request: parsed(), model } })).formats);
  });
  const go = () => run(async () => {
    const key = getGatewayKey();
    if (!key) throw new Error(t("Paste a gateway key first (create one under API keys)."));
    setSent(null);
    setRecord(null);
    const answer = await send(FORMATS.find((f) => f.id === format)!.path(model), key, parsed());
    setSent(answer);
    // The log row is written after the answer: look for it a few times.
    for (let i = 0; i < 10 && answer.requestId; i++) {
      const rec = await api("GET /api/logs/{id}", { params: { id: answer.requestId } }).catch(() => null);
      if (rec) { setRecord(rec); return; }
      await new Promise((r) => setTimeout(r, 300));
    }
  });
  return (
    <>
      <Section title={t("Translator playground")} hint={t("Paste a request in any client format: see it as every upstream format would receive it, then send it through the gateway.")}>
        <div class="grid">
          <Field label={t("Client format")}>
            <select data-testid="pg-format" value={format} onChange={(e) => pick(e.currentTarget.value as TranslateFormat)}>
              {FORMATS.map((f) => <option value={f.id}>{f.label}</option>)}
            </select>
          </Field>
          <Field label={t("Model (Gemini names it in the URL)")}><input data-testid="pg-model" value={model} onInput={(e) => setModel(e.currentTarget.value.trim())} /></Field>
          <KeyField />
        </div>
        <textarea data-testid="pg-request" rows={12} spellcheck={false} value={text} onInput={(e) => setText(e.currentTarget.value)} />
        <div class="inline">
          <button data-testid="pg-translate" onClick={translate}>{t("Translate")}</button>
          <button data-testid="pg-send" onClick={go}>{t("Send through the gateway")}</button>
        </div>
        <ErrorText text={error} />
      </Section>
      {translated ? (
        <Section title={t("In every upstream format")}>
          <div class="columns" data-testid="pg-translations">
            {FORMATS.map((f) => <div><h3>{f.label}</h3><Snippet text={JSON.stringify(translated[f.id], null, 2)} testid={`pg-out-${f.id}`} /></div>)}
          </div>
        </Section>
      ) : null}
      {sent ? (
        <Section title={t("Through the gateway")}>
          <ol class="steps" data-testid="pg-steps">
            <li><strong>{t("Answer")}</strong> <Pill kind={sent.status < 400 ? "ok" : "bad"}>{sent.status}</Pill> {sent.ms} ms</li>
            <li><strong>{t("Attempts and routing")}</strong>
              <dl class="facts">{Object.entries(sent.headers).map(([k, v]) => <><dt>{k}</dt><dd>{v}</dd></>)}</dl></li>
            <li><strong>{t("Answer body")}</strong><pre data-testid="pg-answer">{typeof sent.body === "string" ? sent.body : pretty(JSON.stringify(sent.body))}</pre></li>
            <li><strong>{t("Log record")}</strong>{record ? <LogRecordView rec={record} /> : <p class="muted">{t("Not logged (yet).")}</p>}</li>
          </ol>
        </Section>
      ) : null}
    </>
  );
}
