// The gateway's minimum I/O for a non-streaming passthrough, in plain JS: read the client's body (the
// gateway must, to route by its model), send it upstream as a buffer, read the whole answer (to
// meter it) and answer with a new Response. No key check, routing, metering or wasm: what any
// gateway with these requirements costs the runtime over the forward-only floor (bench/ab.mjs --js).
export default {
  async fetch(request, env) {
    const body = await request.arrayBuffer();
    const upstream = await fetch(`${env.UPSTREAM}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${env.UPSTREAM_KEY}` },
      body,
    });
    const answer = await upstream.arrayBuffer();
    return new Response(answer, { status: upstream.status, headers: { "content-type": "application/json" } });
  },
};
