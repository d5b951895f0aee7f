// The expense app's frontend: static pages from ./public and a reverse proxy
// of /api/ to the backend, reached by its Service name through the cluster
// DNS (BACKEND_URL, default http://backend:8080). No dependencies: node:http
// only. Listens on PORT (default 8080).
import { createReadStream, statSync } from "node:fs";
import http from "node:http";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const port = Number(process.env.PORT || 8080);
const backend = new URL(process.env.BACKEND_URL || "http://backend:8080");
const root = fileURLToPath(new URL("./public/", import.meta.url));
const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml" };
// Hop-by-hop headers are the proxy's own business, never forwarded (RFC 9110 §7.6.1).
const hopByHop = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "proxy-authorization", "proxy-authenticate"]);
const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

function log(msg, fields = {}) {
  const kv = Object.entries(fields)
    .map(([k, v]) => `${k}=${JSON.stringify(String(v))}`)
    .join(" ");
  console.log(`${new Date().toISOString()} ${msg}${kv ? ` ${kv}` : ""}`);
}

function headersWithout(h) {
  const out = {};
  for (const [k, v] of Object.entries(h)) if (!hopByHop.has(k.toLowerCase()) && v !== undefined) out[k] = v;
  return out;
}

function proxy(req, res) {
  const headers = headersWithout(req.headers);
  headers.host = backend.host;
  const fwd = req.headers["x-forwarded-for"];
  headers["x-forwarded-for"] = fwd ? `${fwd}, ${req.socket.remoteAddress}` : req.socket.remoteAddress;
  const upstream = http.request({ host: backend.hostname, port: backend.port || 80, method: req.method, path: req.url, headers, agent, timeout: 15000 }, (r) => {
    res.writeHead(r.statusCode || 502, headersWithout(r.headers));
    r.pipe(res);
  });
  upstream.on("timeout", () => upstream.destroy(new Error("backend timed out")));
  upstream.on("error", (err) => {
    // Say which backend failed and how: "getaddrinfo ENOTFOUND backend" or "connect ECONNREFUSED" are the usual two.
    log("backend request failed", { backend: backend.href, url: req.url, error: err.message });
    if (!res.headersSent) {
      const body = JSON.stringify({ error: `backend ${backend.host} unreachable: ${err.message}` });
      res.writeHead(502, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    } else res.destroy();
  });
  req.pipe(upstream);
}

function serveStatic(req, res) {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { allow: "GET, HEAD" });
    return res.end();
  }
  let path = decodeURIComponent(new URL(req.url || "/", "http://x").pathname);
  if (path.endsWith("/")) path += "index.html";
  // normalize() collapses "..": anything outside public/ is a 404, never a read elsewhere.
  const file = normalize(join(root, path));
  let st;
  try {
    if (!file.startsWith(root)) throw new Error("outside");
    st = statSync(file);
    if (!st.isFile()) throw new Error("not a file");
  } catch {
    res.writeHead(404, { "content-type": "text/plain" });
    return res.end("not found\n");
  }
  res.writeHead(200, { "content-type": types[extname(file)] || "application/octet-stream", "content-length": st.size, "cache-control": "no-cache" });
  if (req.method === "HEAD") return res.end();
  createReadStream(file).pipe(res);
}

const server = http.createServer((req, res) => {
  const url = req.url || "/";
  if (url === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain" });
    return res.end("ok\n");
  }
  if (url === "/api" || url.startsWith("/api/")) return proxy(req, res);
  return serveStatic(req, res);
});
server.listen(port, () => log("expense frontend listening", { port, backend: backend.href }));

process.on("SIGTERM", () => {
  log("SIGTERM: shutting down");
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
});
