/**
 * The ingress part of `npm run bench:network`: requests/s through skiff's
 * ingress controller against requests/s straight to the backend, side by
 * side with the same keep-alive clients and concurrency.
 *
 * A real `skiff server` (its own ingress off) holds a selector-less Service,
 * its EndpointSlice and an Ingress; the controller runs as the server runs
 * it (its own worker thread, {@link startIngressControllerThread}) on
 * loopback; the backend is a node:http server in a child process answering
 * a small body. Rounds alternate direct / ingress so machine noise hits
 * both alike; the medians are reported.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Namespace, Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import type { Ingress } from "kubernetes-types/networking/v1.js";
import { configFromKubeconfig } from "../../src/client/config.js";
import { ResourceClient } from "../../src/client/resource-client.js";
import { ENDPOINT_SLICES, INGRESSES, NAMESPACES, SERVICES } from "../../src/client/resources.js";
import { RestClient } from "../../src/client/rest-client.js";
import { consoleLogger } from "../../src/machinery/log.js";
import { startIngressControllerThread } from "../../src/network/ingress/thread.js";
import { startSkiffServer } from "./processes.js";

/** What {@link benchIngress} reports. */
export interface IngressBenchResult {
  /** Requests/s through the ingress (median of the rounds). */
  readonly ingressRps: number;
  /** Requests/s straight to the backend (median of the rounds). */
  readonly directRps: number;
  /** ingressRps / directRps (aim ≥ 0.7). */
  readonly ingressRatio: number;
  /** Every round's requests/s, in order (the spread on a shared machine). */
  readonly rounds: { readonly direct: number[]; readonly ingress: number[] };
  /**
   * CPU time (user + system, µs) per request of each party, medians of the
   * rounds: the load client, the backend, and the ingress (the bench
   * process's CPU in ingress rounds minus the client's of direct rounds:
   * the controller thread lives in this process).
   */
  readonly cpuPerRequestUs: { readonly client: number; readonly backend: number; readonly ingress: number };
}

/** User + system CPU time of process `pid` so far, in µs (from /proc/PID/stat). */
function processCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(f[11]) + Number(f[12]);
  return (ticks * 1_000_000) / CLOCK_TICKS;
}
/** sysconf(_SC_CLK_TCK): 100 on every Linux platform node runs on. */
const CLOCK_TICKS = 100;

const BACKEND = `
const http = require("node:http");
const body = Buffer.from("hello from the backend\\n");
const s = http.createServer((req, res) => {
  res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": body.length });
  res.end(body);
});
s.keepAliveTimeout = 75000;
s.listen(0, "127.0.0.1", () => process.stdout.write("port=" + s.address().port + "\\n"));
`;

function startBackend(): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, ["-e", BACKEND], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    proc.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /port=(\d+)/.exec(out);
      if (m) resolve({ proc, port: Number(m[1]) });
    });
    proc.once("exit", (code) => reject(new Error(`backend exited (${code})`)));
  });
}

function once(agent: Agent, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/", headers: { Host: host }, agent }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** One load round: requests/s, and CPU µs per request of this process and of the backend. */
interface Round {
  readonly rps: number;
  readonly selfCpuUs: number;
  readonly backendCpuUs: number;
}

/** Requests/s over `ms` with `concurrency` keep-alive connections, with the CPU both processes spent meanwhile. */
async function load(port: number, host: string, concurrency: number, ms: number, backendPid: number): Promise<Round> {
  const cpu0 = process.cpuUsage();
  const backend0 = processCpuUs(backendPid);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  let n = 0;
  let failed = 0;
  const end = performance.now() + ms;
  const worker = async () => {
    while (performance.now() < end) {
      const status = await once(agent, port, host).catch(() => 0);
      if (status === 200) n++;
      else failed++;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const took = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  const backendCpu = processCpuUs(backendPid) - backend0;
  agent.destroy();
  if (failed > 0) throw new Error(`${failed} requests failed during the load round on port ${port}`);
  return { rps: (n * 1000) / took, selfCpuUs: (cpu.user + cpu.system) / n, backendCpuUs: backendCpu / n };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Runs the ingress benchmark; `smoke` makes it short (CI). */
export async function benchIngress(opts: { smoke: boolean }): Promise<IngressBenchResult> {
  const concurrency = opts.smoke ? 8 : 32;
  const roundMs = opts.smoke ? 400 : 3000;
  const rounds = opts.smoke ? 1 : 3;
  const dataDir = mkdtempSync(join(tmpdir(), "skiff-bench-ingress-"));
  const server = await startSkiffServer(dataDir);
  const backend = await startBackend();
  let ctl: Awaited<ReturnType<typeof startIngressControllerThread>> | undefined;
  try {
    const config = configFromKubeconfig(server.kubeconfig);
    const rest = new RestClient(config);
    const ns = "bench-ingress";
    await new ResourceClient<Namespace>(rest, NAMESPACES).create({ metadata: { name: ns } });
    await new ResourceClient<Service>(rest, SERVICES).namespace(ns).create({ metadata: { name: "backend" }, spec: { ports: [{ name: "http", port: 80 }] } });
    await new ResourceClient<EndpointSlice>(rest, ENDPOINT_SLICES).namespace(ns).create({
      metadata: { name: "backend-1", labels: { "kubernetes.io/service-name": "backend" } },
      addressType: "IPv4",
      ports: [{ name: "http", port: backend.port, protocol: "TCP" }],
      endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true } }],
    });
    await new ResourceClient<Ingress>(rest, INGRESSES).namespace(ns).create({
      metadata: { name: "bench" },
      spec: { rules: [{ host: "bench.example", http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "backend", port: { number: 80 } } } }] } }] },
    });
    ctl = await startIngressControllerThread({
      client: config,
      httpListen: { host: "127.0.0.1", port: 0 },
      httpsListen: { host: "127.0.0.1", port: 0 },
      statusAddresses: ["127.0.0.1"],
      logger: consoleLogger({ level: "warn" }),
      logLevel: "warn",
    });
    const probe = new Agent({ keepAlive: false });
    const deadline = Date.now() + 30_000;
    while ((await once(probe, ctl.httpPort, "bench.example").catch(() => 0)) !== 200) {
      if (Date.now() > deadline) throw new Error("the ingress never routed the bench Ingress");
      await new Promise((r) => setTimeout(r, 100));
    }
    // Warm both paths (JIT, connection pools) before measuring.
    const pid = backend.proc.pid!;
    await load(backend.port, "bench.example", concurrency, opts.smoke ? 200 : 1000, pid);
    await load(ctl.httpPort, "bench.example", concurrency, opts.smoke ? 200 : 1000, pid);
    const direct: Round[] = [];
    const ingress: Round[] = [];
    for (let i = 0; i < rounds; i++) {
      direct.push(await load(backend.port, "bench.example", concurrency, roundMs, pid));
      ingress.push(await load(ctl.httpPort, "bench.example", concurrency, roundMs, pid));
    }
    const directRps = Math.round(median(direct.map((r) => r.rps)));
    const ingressRps = Math.round(median(ingress.map((r) => r.rps)));
    const client = median(direct.map((r) => r.selfCpuUs));
    return {
      ingressRps,
      directRps,
      ingressRatio: Math.round((ingressRps / directRps) * 100) / 100,
      rounds: { direct: direct.map((r) => Math.round(r.rps)), ingress: ingress.map((r) => Math.round(r.rps)) },
      cpuPerRequestUs: {
        client: Math.round(client),
        backend: Math.round(median([...direct, ...ingress].map((r) => r.backendCpuUs))),
        ingress: Math.round(median(ingress.map((r) => r.selfCpuUs)) - client),
      },
    };
  } finally {
    await ctl?.stop();
    backend.proc.kill("SIGTERM");
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
