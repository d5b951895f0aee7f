/**
 * `GET /stats/summary[?only_cpu_and_memory=true]` as upstream's kubelet
 * stats handler answers it: the Summary as JSON indented the way
 * go-restful pretty-prints (one space per level), `405: Method Not Allowed`
 * for other methods, and `500 Internal Error: …` when the node's stats
 * cannot be read. Authentication and authorization (`nodes/stats`) happen
 * before, in the kubelet server.
 */
import type { ServerResponse } from "node:http";
import type { Logger } from "../../machinery/log.js";
import type { StatsProvider } from "./types.js";

function text(res: ServerResponse, code: number, body: string): void {
  res.writeHead(code, { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

/** Serves one `/stats/summary` request with `provider`. */
export async function serveStatsSummary(method: string, url: URL, res: ServerResponse, provider: StatsProvider, log: Logger): Promise<void> {
  if (method !== "GET") return text(res, 405, "405: Method Not Allowed");
  // Upstream takes exactly one value, and only the literal "true".
  const only = url.searchParams.getAll("only_cpu_and_memory");
  const onlyCpuAndMemory = only.length === 1 && only[0] === "true";
  let body: string;
  try {
    body = JSON.stringify(await provider.summary({ onlyCpuAndMemory }), null, 1);
  } catch (err) {
    const msg = (err as Error)?.message ?? String(err);
    log.error("HTTP InternalServerError serving", { request: "/stats/summary", err: msg });
    return text(res, 500, `Internal Error: ${msg}`);
  }
  res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}
