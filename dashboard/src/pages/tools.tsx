// Copy-ready setup for coding tools and SDKs, filled in with this gateway's URL, a key and a model
// (the settings are those the README's "Client setup" documents and the tests run).
import { useState } from "preact/hooks";
import { api } from "../api";
import { baseUrl, useGatewayKey } from "../gateway";
import { en, t } from "../i18n";
import { Field, Section, Snippet, useLoad } from "../ui";
import { KeyField } from "./key_field";

type Tool = { name: string; hint?: string; snippet: (origin: string, key: string, model: string) => string };

export const TOOLS: Tool[] = [
  { name: "Claude Code", hint: en("Shell environment, then run claude."), snippet: (o, k, m) =>
    `export ANTHROPIC_BASE_URL="${o}"\nexport ANTHROPIC_API_KEY="${k}"\nclaude --model ${m}` },
  { name: "Codex CLI", hint: en("~/.codex/config.toml (HTTP, Responses API), then run codex."), snippet: (o, k, m) =>
    `# ~/.codex/config.toml\nmodel = "${m}"\nmodel_provider = "omniroute"\n\n[model_providers.omniroute]\nname = "omniroute-edge"\nbase_url = "${o}/v1"\nwire_api = "responses"\nenv_key = "OMNIROUTE_KEY"\n\n# shell\nexport OMNIROUTE_KEY="${k}"\ncodex` },
  { name: "Gemini CLI", hint: en("Shell environment and ~/.gemini/settings.json, then run gemini."), snippet: (o, k, m) =>
    `export GOOGLE_GEMINI_BASE_URL="${o}"\nexport GEMINI_API_KEY="${k}"\n# ~/.gemini/settings.json: {"security": {"auth": {"selectedType": "gemini-api-key"}}}\ngemini -m ${m}` },
  { name: "Cursor", hint: en("Settings → Models → OpenAI API key: override the base URL, then add the model."), snippet: (o, k, m) =>
    `OpenAI API Key:    ${k}\nOverride Base URL: ${o}/v1\nModel:             ${m}` },
  { name: "Cline", hint: en("API Provider: OpenAI Compatible."), snippet: (o, k, m) =>
    `Base URL: ${o}/v1\nAPI Key:  ${k}\nModel ID: ${m}` },
  { name: "OpenCode", hint: en("opencode.json in your project or ~/.config/opencode/."), snippet: (o, k, m) =>
    JSON.stringify({ $schema: "https://opencode.ai/config.json", provider: { omniroute: { npm: "@ai-sdk/openai-compatible", name: "omniroute-edge",
      options: { baseURL: `${o}/v1`, apiKey: k }, models: { [m]: { name: m } } } }, model: `omniroute/${m}` }, null, 2) },
  { name: "OpenAI SDK (Python)", snippet: (o, k, m) =>
    `from openai import OpenAI\n\nclient = OpenAI(base_url="${o}/v1", api_key="${k}")\nreply = client.chat.completions.create(\n    model="${m}",\n    messages=[{"role": "user", "content": "Hello"}],\n)\nprint(reply.choices[0].message.content)` },
  { name: "OpenAI SDK (JavaScript)", snippet: (o, k, m) =>
    `import OpenAI from "openai";\n\nconst client = new OpenAI({ baseURL: "${o}/v1", apiKey: "${k}" });\nconst reply = await client.chat.completions.create({\n  model: "${m}",\n  messages: [{ role: "user", content: "Hello" }],\n});\nconsole.log(reply.choices[0].message.content);` },
  { name: "Anthropic SDK (Python)", snippet: (o, k, m) =>
    `from anthropic import Anthropic\n\nclient = Anthropic(base_url="${o}", api_key="${k}")\nreply = client.messages.create(model="${m}", max_tokens=512,\n    messages=[{"role": "user", "content": "Hello"}])\nprint(reply.content[0].text)` },
  { name: "Google GenAI SDK (Python)", snippet: (o, k, m) =>
    `from google import genai\n\nclient = genai.Client(api_key="${k}",\n    http_options={"base_url": "${o}", "api_version": "v1beta"})\nreply = client.models.generate_content(model="${m}", contents="Hello")\nprint(reply.text)` },
  { name: "curl", snippet: (o, k, m) =>
    `curl ${o}/v1/chat/completions \\\n  -H "Authorization: Bearer ${k}" \\\n  -H "Content-Type: application/json" \\\n  -d '${JSON.stringify({ model: m, messages: [{ role: "user", content: "Hello" }] })}'` },
];

export function Tools() {
  const [key] = useGatewayKey();
  const models = useLoad(() => api("GET /api/models/catalog"));
  const combos = useLoad(() => api("GET /api/combos"));
  const choices = [...(combos.data?.data ?? []).map((c) => c.name), ...(models.data?.data ?? []).flatMap((g) => g.models.map((m) => m.id))];
  const [model, setModel] = useState("");
  const chosen = model || choices[0] || "openai/gpt-4o-mini";
  const origin = baseUrl().replace(/\/v1$/, "");
  return (
    <>
      <Section title={t("CLI tools and SDKs")} hint={t("Every tool names models provider/model (or a combo or alias) and may use any provider, whatever format it speaks.")}>
        <div class="grid">
          <KeyField />
          <Field label={t("Model")}>
            <input list="tool-models" data-testid="tool-model" value={chosen} onInput={(e) => setModel(e.currentTarget.value.trim())} />
            <datalist id="tool-models">{choices.map((m) => <option value={m} />)}</datalist>
          </Field>
        </div>
        <p class="hint">{t("Base URL")}: <code>{origin}/v1</code>{key ? "" : ` · ${t("No key chosen: the snippets show a placeholder.")}`}</p>
      </Section>
      {TOOLS.map((tool) => (
        <Section title={tool.name} hint={tool.hint ? t(tool.hint) : undefined}>
          <Snippet testid={`tool-${tool.name}`} text={tool.snippet(origin, key || "<gateway key>", chosen)} />
        </Section>
      ))}
    </>
  );
}
