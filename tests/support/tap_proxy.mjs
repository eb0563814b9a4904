// A recording proxy in front of the gateway, for clients whose traffic a test must see: plain HTTP
// requests are forwarded as they are, WebSocket upgrades are forwarded as a second WebSocket to the
// gateway, and every request, upgrade and client message is recorded (`log`, in order).
import http from "node:http";
import { WebSocket, WebSocketServer } from "ws";

export async function startTapProxy(target) {
  const log = [];
  const wss = new WebSocketServer({ noServer: true });
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    log.push({ kind: "http", method: req.method, path: req.url });
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !["host", "connection", "content-length"].includes(k)));
    const body = chunks.length ? Buffer.concat(chunks) : undefined;
    const r = await fetch(`${target}${req.url}`, { method: req.method, headers, body });
    res.writeHead(r.status, Object.fromEntries(r.headers));
    if (r.body) for await (const c of r.body) res.write(c);
    res.end();
  });
  server.on("upgrade", (req, socket, head) => {
    const entry = { kind: "upgrade", path: req.url, headers: req.headers, status: null, messages: [] };
    log.push(entry);
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !k.startsWith("sec-websocket") && !["host", "connection", "upgrade"].includes(k)));
    const upstream = new WebSocket(`${target.replace(/^http/, "ws")}${req.url}`, { headers, perMessageDeflate: false });
    upstream.on("unexpected-response", (_, r) => {
      entry.status = r.statusCode;
      socket.end(`HTTP/1.1 ${r.statusCode} Refused\r\ncontent-length: 0\r\n\r\n`);
    });
    upstream.on("error", () => socket.destroy());
    upstream.on("open", () => {
      entry.status = 101;
      wss.handleUpgrade(req, socket, head, (client) => {
        client.on("message", (data, binary) => {
          entry.messages.push(binary ? data : JSON.parse(String(data)));
          upstream.send(data, { binary });
        });
        upstream.on("message", (data, binary) => client.send(data, { binary }));
        client.on("close", () => upstream.close());
        upstream.on("close", () => client.close());
      });
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    log,
    async close() { server.closeAllConnections(); wss.close(); await new Promise((r) => server.close(r)); },
  };
}
