// The official SDKs as gateway clients, behind one small interface so a scenario can be written once
// and run from every client format. Each adapter returns plain results: { text, reasoning, tool }.
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { GoogleGenAI } from "@google/genai";

export const IMAGE_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";
const weatherSchema = { type: "object", properties: { city: { type: "string" } }, required: ["city"] };

/** `headers` go with every request (e.g. an `X-Request-Id` to find the request in the log). */
export function clientsFor(gatewayUrl, key, { headers = {} } = {}) {
  const openai = new OpenAI({ apiKey: key, baseURL: `${gatewayUrl}/v1`, maxRetries: 0, defaultHeaders: headers });
  const anthropic = new Anthropic({ apiKey: key, baseURL: gatewayUrl, maxRetries: 0, defaultHeaders: headers });
  const gemini = new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: gatewayUrl, apiVersion: "v1beta", headers } });
  return {
    "openai-chat": {
      // `usage`: ask for the usage chunk at the end of a stream (`stream_options.include_usage`).
      async run(model, { stream = false, tools = false, thinking = false, json = false, image = false, usage = false, prompt = "hello", temperature } = {}) {
        const content = image ? [{ type: "text", text: prompt }, { type: "image_url", image_url: { url: `data:image/png;base64,${IMAGE_PNG}` } }] : prompt;
        const req = { model, messages: [{ role: "user", content }] };
        if (temperature !== undefined) req.temperature = temperature;
        if (stream && usage) req.stream_options = { include_usage: true };
        if (tools) req.tools = [{ type: "function", function: { name: "get_weather", parameters: weatherSchema } }];
        if (thinking) req.reasoning_effort = "low";
        if (json) req.response_format = { type: "json_object" };
        if (!stream) {
          const r = await openai.chat.completions.create(req);
          const m = r.choices[0].message;
          const tc = m.tool_calls?.[0];
          return { text: m.content ?? "", reasoning: m.reasoning_content ?? "", tool: tc && { name: tc.function.name, args: JSON.parse(tc.function.arguments) }, finish: r.choices[0].finish_reason };
        }
        if (!tools && !thinking) {
          // The SDK's own stream helper: it checks the chunk sequence as it accumulates. (It keeps
          // only the last fragment of non-standard fields like `reasoning_content`, so streams with
          // reasoning are accumulated below.)
          const r = await openai.chat.completions.stream(req).finalChatCompletion();
          const m = r.choices[0].message;
          return { text: m.content ?? "", reasoning: m.reasoning_content ?? "", finish: r.choices[0].finish_reason };
        }
        let text = "", reasoning = "", name = "", args = "", finish = null;
        for await (const c of await openai.chat.completions.create({ ...req, stream: true })) {
          const d = c.choices[0]?.delta ?? {};
          text += d.content ?? "";
          reasoning += d.reasoning_content ?? "";
          for (const t of d.tool_calls ?? []) { name += t.function?.name ?? ""; args += t.function?.arguments ?? ""; }
          finish = c.choices[0]?.finish_reason ?? finish;
        }
        return { text, reasoning, tool: name && { name, args: JSON.parse(args) }, finish };
      },
    },
    "openai-responses": {
      async run(model, { stream = false, tools = false, thinking = false, json = false, image = false, prompt = "hello", temperature } = {}) {
        const input = image
          ? [{ role: "user", content: [{ type: "input_text", text: prompt }, { type: "input_image", image_url: `data:image/png;base64,${IMAGE_PNG}`, detail: "auto" }] }]
          : prompt;
        const req = { model, input };
        if (temperature !== undefined) req.temperature = temperature;
        if (tools) req.tools = [{ type: "function", name: "get_weather", parameters: weatherSchema, strict: false }];
        if (thinking) req.reasoning = { effort: "low", summary: "auto" };
        if (json) req.text = { format: { type: "json_object" } };
        // The stream helper checks event order and item ids between .added and .done.
        const r = stream ? await openai.responses.stream(req).finalResponse() : await openai.responses.create(req);
        const call = r.output.find((o) => o.type === "function_call");
        const reasoning = r.output.filter((o) => o.type === "reasoning").flatMap((o) => o.summary ?? []).map((s) => s.text).join("");
        return { text: r.output_text ?? "", reasoning, tool: call && { name: call.name, args: JSON.parse(call.arguments) }, finish: r.status };
      },
    },
    anthropic: {
      async run(model, { stream = false, tools = false, thinking = false, image = false, prompt = "hello", temperature } = {}) {
        const content = image ? [{ type: "text", text: prompt }, { type: "image", source: { type: "base64", media_type: "image/png", data: IMAGE_PNG } }] : prompt;
        const req = { model, max_tokens: thinking ? 2048 : 256, messages: [{ role: "user", content }] };
        if (temperature !== undefined) req.temperature = temperature;
        if (tools) req.tools = [{ name: "get_weather", input_schema: weatherSchema }];
        if (thinking) req.thinking = { type: "enabled", budget_tokens: 1024 };
        // The stream helper enforces message_start first and contiguous block indexes.
        const r = stream ? await anthropic.messages.stream(req).finalMessage() : await anthropic.messages.create(req);
        const tool = r.content.find((b) => b.type === "tool_use");
        return {
          text: r.content.filter((b) => b.type === "text").map((b) => b.text).join(""),
          reasoning: r.content.filter((b) => b.type === "thinking").map((b) => b.thinking).join(""),
          tool: tool && { name: tool.name, args: tool.input },
          finish: r.stop_reason,
        };
      },
    },
    gemini: {
      async run(model, { stream = false, tools = false, thinking = false, json = false, image = false, prompt = "hello", temperature } = {}) {
        const contents = image ? [{ role: "user", parts: [{ text: prompt }, { inlineData: { mimeType: "image/png", data: IMAGE_PNG } }] }] : prompt;
        const config = {};
        if (temperature !== undefined) config.temperature = temperature;
        if (tools) config.tools = [{ functionDeclarations: [{ name: "get_weather", parameters: { type: "OBJECT", properties: { city: { type: "STRING" } } } }] }];
        if (thinking) config.thinkingConfig = { includeThoughts: true, thinkingBudget: 1024 };
        if (json) config.responseMimeType = "application/json";
        const chunks = stream
          ? await (async () => { const out = []; for await (const c of await gemini.models.generateContentStream({ model, contents, config })) out.push(c); return out; })()
          : [await gemini.models.generateContent({ model, contents, config })];
        const parts = chunks.flatMap((c) => c.candidates?.[0]?.content?.parts ?? []);
        const call = parts.find((p) => p.functionCall)?.functionCall;
        return {
          text: parts.filter((p) => p.text && !p.thought).map((p) => p.text).join(""),
          reasoning: parts.filter((p) => p.text && p.thought).map((p) => p.text).join(""),
          tool: call && { name: call.name, args: call.args },
          finish: chunks.at(-1)?.candidates?.[0]?.finishReason,
        };
      },
    },
  };
}
