import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { silentLogger } from "../../machinery/log.js";
import { serveStatsSummary } from "./summary-handler.js";
import type { Summary, SummaryOptions } from "./types.js";

const asked: SummaryOptions[] = [];
let failing = false;
const summary: Summary = { node: { nodeName: "n1", startTime: "2026-01-01T00:00:00Z" }, pods: [] };
const provider = {
  async summary(o: SummaryOptions = {}) {
    asked.push(o);
    if (failing) throw new Error("failed to get root cgroup stats");
    return summary;
  },
};

let server: Server;
let base = "";
before(async () => {
  server = createServer((req, res) => void serveStatsSummary(req.method ?? "GET", new URL(req.url ?? "/", "http://x"), res, provider, silentLogger));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

test("the summary as JSON, pretty-printed with one space per level as go-restful does", async () => {
  const res = await fetch(`${base}/stats/summary`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json");
  const text = await res.text();
  assert.equal(text, JSON.stringify(summary, null, 1));
  assert.ok(text.startsWith('{\n "node": {\n  "nodeName": "n1"'));
});

test("only_cpu_and_memory=true (and only that literal) asks for cpu and memory only", async () => {
  asked.length = 0;
  await fetch(`${base}/stats/summary?only_cpu_and_memory=true`);
  await fetch(`${base}/stats/summary?only_cpu_and_memory=1`);
  await fetch(`${base}/stats/summary?only_cpu_and_memory=true&only_cpu_and_memory=true`);
  assert.deepEqual(
    asked.map((o) => o.onlyCpuAndMemory),
    [true, false, false],
  );
});

test("other methods are 405, provider failures 500 Internal Error", async () => {
  const post = await fetch(`${base}/stats/summary`, { method: "POST" });
  assert.equal(post.status, 405);
  assert.equal(await post.text(), "405: Method Not Allowed");
  failing = true;
  try {
    const res = await fetch(`${base}/stats/summary`);
    assert.equal(res.status, 500);
    assert.equal(await res.text(), "Internal Error: failed to get root cgroup stats");
  } finally {
    failing = false;
  }
});
