// The common test setup: a mock OpenAI upstream, the gateway with one `openai` connection to it, and
// a gateway API key. Registers its own teardown with node:test.
import { before, after } from "node:test";
import { startGateway } from "./gateway.mjs";
import { startMockOpenAI } from "./mock_openai.mjs";

/** Returns an object whose `gw`, `upstream` and `key` are filled in before the first test runs;
 *  `then(ctx)` runs right after, for a test file's own setup. */
export function gatewayWithOpenAI({ then } = {}) {
  const ctx = {};
  before(async () => {
    ctx.upstream = await startMockOpenAI();
    ctx.gw = await startGateway();
    await ctx.gw.addConnection({ provider: "openai", api_key: ctx.upstream.apiKey, base_url: ctx.upstream.url });
    ctx.key = await ctx.gw.createKey();
    await then?.(ctx);
  });
  after(async () => { await ctx.gw?.dispose(); await ctx.upstream?.close(); });
  return ctx;
}
