// The runtime floor: a worker that only forwards the request to the upstream and returns its answer.
// The gateway's numbers are read against this one, measured in the same runtime on the same machine.
export default {
  async fetch(request, env) {
    return fetch(`${env.UPSTREAM}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${env.UPSTREAM_KEY}` },
      body: request.body,
    });
  },
};
