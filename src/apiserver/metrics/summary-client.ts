/**
 * Fetches one kubelet's `/stats/summary?only_cpu_and_memory=true` as
 * metrics-server's summary client does: HTTPS to the node's preferred
 * address and reported kubelet port, authenticated with the API server's
 * kubelet client certificate (KubeletConnections), a per-request timeout,
 * and failures worded as metrics-server logs them.
 */
import { STATUS_CODES } from "node:http";
import { BackendError, sendRequest } from "../kubelet/backend.js";
import type { KubeletConnections } from "../kubelet/connection.js";

/** Largest summary read (a node with hundreds of pods stays far below). */
const MAX_SUMMARY_BYTES = 32 * 1024 * 1024;

/** Reads a node's summary document; rejects with an Error saying why not. */
export type SummaryFetcher = (nodeName: string, signal: AbortSignal) => Promise<unknown>;

/** A {@link SummaryFetcher} over the API server's kubelet connections. */
export function kubeletSummaryFetcher(connections: KubeletConnections, timeoutMs: number): SummaryFetcher {
  return async (nodeName, signal) => {
    const ep = await connections.endpoint(nodeName);
    const url = new URL(`https://${ep.hostPort}/stats/summary?only_cpu_and_memory=true`);
    const timeout = AbortSignal.timeout(timeoutMs);
    const both = AbortSignal.any([signal, timeout]);
    let res: Awaited<ReturnType<typeof sendRequest>>;
    try {
      res = await sendRequest({ url, agent: connections.agentFor(), method: "GET", headers: { Accept: "application/json", "User-Agent": "skiff-metrics" }, signal: both, connectTimeoutMs: timeoutMs });
    } catch (err) {
      if (timeout.aborted) throw new Error(`Get "${url.href}": context deadline exceeded`);
      throw new Error(`Get "${url.href}": ${err instanceof BackendError ? err.goText : (err as Error).message}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const c of res) {
        size += (c as Buffer).length;
        if (size > MAX_SUMMARY_BYTES) {
          res.destroy();
          throw new Error(`summary of node ${nodeName} exceeds ${MAX_SUMMARY_BYTES} bytes`);
        }
        chunks.push(c as Buffer);
      }
    } catch (err) {
      if (timeout.aborted) throw new Error(`Get "${url.href}": context deadline exceeded`);
      throw err;
    }
    const status = res.statusCode ?? 0;
    if (status !== 200) throw new Error(`request failed, status: "${status} ${STATUS_CODES[status] ?? ""}"`);
    try {
      return JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch (err) {
      throw new Error(`failed to decode the summary: ${(err as Error).message}`);
    }
  };
}
