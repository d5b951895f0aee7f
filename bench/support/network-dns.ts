/**
 * Cluster DNS throughput on loopback: a server holding many Services (a
 * fed index, no API server) answers A queries for cluster names from
 * several concurrent UDP clients, each keeping a window of queries in
 * flight. The clients run in a worker thread, so load generation and the
 * server each get a core of their own. Figures: queries answered per
 * second and the 99th percentile of the time from a query's send to its
 * reply (queueing in the window included).
 *
 * Queries are encoded with dns-packet up front (one per ID per client);
 * the worker only sends them and matches replies by the ID.
 */
import { Worker } from "node:worker_threads";
import * as dnsPacket from "dns-packet";
import { ClusterIndex } from "../../src/network/dns/cluster-index.js";
import { startClusterDns } from "../../src/network/dns/server.js";

export interface DnsBenchResult {
  readonly dnsQps: number;
  readonly dnsP99Ms: number;
}

/** Loads `services` Services (every 4th headless, with 3 endpoints) over `namespaces` Namespaces. */
function loadIndex(services: number, namespaces: number): { index: ClusterIndex; names: string[] } {
  const index = new ClusterIndex();
  const names: string[] = [];
  for (let n = 0; n < namespaces; n++) index.setNamespace({ metadata: { name: `ns-${n}` } });
  for (let i = 0; i < services; i++) {
    const ns = `ns-${i % namespaces}`;
    const name = `svc-${i}`;
    const headless = i % 4 === 3;
    const ip = `10.43.${(i >> 8) & 0xff}.${i & 0xff}`;
    index.setService({
      metadata: { name, namespace: ns },
      spec: { clusterIP: headless ? "None" : ip, ports: [{ name: "http", port: 80, protocol: "TCP" }] },
    });
    index.setEndpointSlice({
      metadata: { name: `${name}-1`, namespace: ns, labels: { "kubernetes.io/service-name": name } },
      addressType: "IPv4",
      endpoints: [0, 1, 2].map((k) => ({ addresses: [`10.42.${(i >> 6) & 0xff}.${((i & 0x3f) << 2) | k}`], conditions: { ready: true } })),
      ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    });
    // Headless answers are shuffled per query (loadbalance), so they take the full path every time.
    names.push(`${name}.${ns}.svc.cluster.local`);
  }
  return { index, names };
}

const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const dgram = require("node:dgram");
const { port, queries, window: win, durationMs, warmupMs } = workerData;
const latencies = [];
let answered = 0;
let lost = 0;
let measuring = false;
let stopping = false;
const clients = queries.map((pool) => {
  const s = dgram.createSocket("udp4");
  const sent = new Map();
  let next = 0;
  const fire = () => {
    if (stopping) return;
    const i = next;
    next = (next + 1) % pool.length;
    sent.set(i, process.hrtime.bigint());
    s.send(pool[i], port, "127.0.0.1");
  };
  s.on("message", (m) => {
    const id = m.readUInt16BE(0);
    const t = sent.get(id);
    if (t === undefined) return;
    sent.delete(id);
    if (measuring) {
      answered++;
      latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    fire();
  });
  return { s, sent, fire };
});
// A lost datagram frees its window slot after a second.
const sweep = setInterval(() => {
  const now = process.hrtime.bigint();
  for (const c of clients) for (const [id, t] of c.sent) if (now - t > 1000000000n) { c.sent.delete(id); lost++; c.fire(); }
}, 200);
for (const c of clients) for (let k = 0; k < win; k++) c.fire();
setTimeout(() => {
  measuring = true;
  const start = process.hrtime.bigint();
  setTimeout(() => {
    measuring = false;
    stopping = true;
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    clearInterval(sweep);
    for (const c of clients) c.s.close();
    parentPort.postMessage({ answered, seconds, lost, latencies: Float64Array.from(latencies) });
  }, durationMs);
}, warmupMs);
`;

/** Runs the benchmark; smoke mode is short and small. */
export async function benchDns(opts: { smoke: boolean }): Promise<DnsBenchResult> {
  const { index, names } = loadIndex(opts.smoke ? 200 : 2000, opts.smoke ? 5 : 20);
  const dns = await startClusterDns({ client: { index }, listen: { host: "127.0.0.1", port: 0 }, upstreams: [] });
  try {
    const clients = 4;
    const window = 16;
    const poolSize = 4096;
    const queries = Array.from({ length: clients }, (_, c) =>
      Array.from({ length: poolSize }, (_, id) =>
        dnsPacket.encode({
          id,
          type: "query",
          flags: dnsPacket.RECURSION_DESIRED,
          questions: [{ name: names[(c * 7919 + id * 31) % names.length]!, type: "A", class: "IN" }],
        }),
      ),
    );
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: { port: dns.port, queries, window, durationMs: opts.smoke ? 1000 : 5000, warmupMs: opts.smoke ? 200 : 1000 },
    });
    const result = await new Promise<{ answered: number; seconds: number; lost: number; latencies: Float64Array }>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    await worker.terminate();
    const sorted = Array.from(result.latencies).sort((a, b) => a - b);
    const p99 = sorted.length > 0 ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]! : Number.NaN;
    return { dnsQps: Math.round(result.answered / result.seconds), dnsP99Ms: Math.round(p99 * 1000) / 1000 };
  } finally {
    await dns.stop();
  }
}

// Run directly: one JSON line.
if (import.meta.url === `file://${process.argv[1]}`) {
  const smoke = process.argv.includes("--smoke");
  console.log(JSON.stringify(await benchDns({ smoke })));
}
