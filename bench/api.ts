/**
 * `npm run bench:api`: a real `skiff server` (run from source, SQLite store)
 * driven over HTTPS with the admin client certificate, side by side with a
 * bare node:https server as the ceiling, printed as one JSON line.
 *
 *   pod creates/s and GETs/s of one pod with 32 concurrent clients; LIST of
 *   10,000 pods as JSON and as a server-side Table (median of 3); watch
 *   delivery p50/p99 from one write to 500 watchers (half label-selected,
 *   half selected by metadata.name); mutating p99 at an open-loop 1,000
 *   creates/s; server RSS idle and with 10,000 pods; the bare server's
 *   GETs/s and POSTs/s with the same TLS material and clients, and skiff's
 *   figures as a ratio of those; RBAC: GETs/s of a user (not system:masters)
 *   allowed through its only binding, cluster-admin, then through the last
 *   of 200 Roles bound to it by 200 RoleBindings, and their ratio.
 *
 * Flags: --smoke (tiny sizes, for CI), --seconds N (each throughput and paced
 * window), --clients N, --pods N, --watchers N, --watch-writes N, --rate N,
 * --phases list,gets,rbac,creates,paced,watch,bare (a subset; the rest are null),
 * --server-cpu-prof DIR (run the server under --cpu-prof, profile into DIR),
 * --server-main FILE (run a built `dist/src/cli/main.js` instead of the
 * sources under tsx, whose loader alone adds ~35 MB of RSS),
 * --server-node-arg=ARG (repeatable, e.g. --server-node-arg=--trace-gc),
 * --server-log FILE (append the server's output there),
 * --with-components (also run the controller manager and scheduler, off by default),
 * --idle-settle-seconds N (idle time before the idle RSS reading; 60, 0 in smoke
 * mode; the reading 2 s after start is reported as rssMB.startup).
 * Progress goes to standard error; only the JSON line goes to standard output.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { issueCertificate } from "../src/pki/certs.js";
import { Client, type Credentials, type Reply, readKubeconfig, type Stream } from "./support/https-client.js";
import { type Child, rssMB, startBareServer, startSkiffServer } from "./support/processes.js";

const ALL_PHASES = ["list", "gets", "rbac", "creates", "paced", "watch", "bare"] as const;
type Phase = (typeof ALL_PHASES)[number];

const { values } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    seconds: { type: "string" },
    clients: { type: "string", default: "32" },
    pods: { type: "string" },
    watchers: { type: "string" },
    "watch-writes": { type: "string" },
    rate: { type: "string", default: "1000" },
    "idle-settle-seconds": { type: "string" },
    "with-components": { type: "boolean", default: false },
    phases: { type: "string", default: ALL_PHASES.join(",") },
    "server-cpu-prof": { type: "string" },
    "server-main": { type: "string" },
    "server-node-arg": { type: "string", multiple: true, default: [] },
    "server-log": { type: "string" },
  },
});
const smoke = values.smoke!;
const windowSec = Number(values.seconds ?? (smoke ? 1 : 5));
const warmSec = smoke ? 0.25 : 1;
const clients = Number(values.clients);
const listPods = Number(values.pods ?? (smoke ? 200 : 10_000));
const watchers = Number(values.watchers ?? (smoke ? 20 : 500));
const watchWrites = Number(values["watch-writes"] ?? (smoke ? 10 : 50));
const rate = Number(values.rate);
const idleSettleSec = Number(values["idle-settle-seconds"] ?? (smoke ? 0 : 60));
const phases = new Set(values.phases!.split(",").filter(Boolean));
for (const p of phases) if (!(ALL_PHASES as readonly string[]).includes(p)) throw new Error(`unknown phase ${p}; use ${ALL_PHASES.join(",")}`);
const run = (p: Phase) => phases.has(p);

const NS = "bench";
const PODS = `/api/v1/namespaces/${NS}/pods`;
const TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
const WATCH_LABEL = "skiff.bench/watch";
const WATCH_TARGET = "watch-target";

const say = (msg: string) => process.stderr.write(`bench:api ${msg}\n`);
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function podBody(name: string, labels: Record<string, string> = {}, annotations?: Record<string, string>): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels: { app: "bench", ...labels }, ...(annotations ? { annotations } : {}) },
    spec: { containers: [{ name: "app", image: "registry.local/bench:1" }] },
  });
}

/** Counts replies that are not `want`, logging the first few. */
class Errors {
  readonly counts: Record<string, number> = {};
  check(what: string, r: Reply, want: number): boolean {
    if (r.status === want) return true;
    const key = `${what}:${r.status}`;
    const n = (this.counts[key] = (this.counts[key] ?? 0) + 1);
    if (n <= 3) say(`${what}: HTTP ${r.status}: ${r.body.toString("utf8").slice(0, 300)}`);
    return false;
  }
  must(what: string, r: Reply, want: number): Reply {
    if (!this.check(what, r, want)) throw new Error(`${what}: HTTP ${r.status}: ${r.body.toString("utf8").slice(0, 500)}`);
    return r;
  }
}
const errors = new Errors();

/** Runs `op` from `concurrency` loops for `seconds`; returns successful ops per second. */
async function throughput(concurrency: number, seconds: number, op: (worker: number, i: number) => Promise<boolean>): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let ok = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = 0; performance.now() < end; i++) if (await op(w, i)) ok++;
    }),
  );
  return Math.round(ok / seconds);
}

/** A discarded warm-up window (connections, JIT), then the measured one. */
async function measured(concurrency: number, op: (tag: string) => (worker: number, i: number) => Promise<boolean>): Promise<number> {
  await throughput(concurrency, warmSec, op("warm"));
  return throughput(concurrency, windowSec, op("run"));
}

/** Creates `n` pods p-00000… from `clients` loops; returns creates per second. */
async function fill(c: Client, n: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = next++; i < n; i = next++) {
        errors.must("fill create", await c.send("POST", PODS, { body: podBody(`p-${String(i).padStart(5, "0")}`, { "skiff.bench/set": "list" }) }), 201);
      }
    }),
  );
  return Math.round(n / ((performance.now() - t0) / 1000));
}

/** Median of 3 full LISTs of the namespace (time to the last byte); checks the item count. */
async function listMs(c: Client, accept: string, expect: number): Promise<{ ms: number; kind: string; bytes: number }> {
  const times: number[] = [];
  let kind = "";
  let bytes = 0;
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    const r = await c.send("GET", PODS, { headers: { Accept: accept } });
    times.push(performance.now() - t0);
    errors.must("list", r, 200);
    bytes = r.body.length;
    const body = JSON.parse(r.body.toString("utf8")) as { kind?: string; items?: unknown[]; rows?: unknown[] };
    kind = body.kind ?? "";
    const n = (body.kind === "Table" ? body.rows : body.items)?.length;
    if (n !== expect) throw new Error(`LIST (${accept}) returned ${n} objects (${kind}), expected ${expect}`);
  }
  say(`LIST ${kind} (${bytes} bytes): ${times.map((t) => round(t)).join(", ")} ms`);
  return { ms: round(times.sort((a, b) => a - b)[1]!), kind, bytes };
}

/**
 * Open-loop creates at `perSec` for `seconds`: request k is due at t0 + k/perSec
 * whether or not earlier ones have answered, and its latency counts from when
 * it was due (so a stalled server is not hidden by a stalled client).
 */
async function paced(c: Client, perSec: number, seconds: number, tag: string) {
  const total = Math.round(perSec * seconds);
  const fromDue: number[] = [];
  const fromSend: number[] = [];
  const inflight: Promise<void>[] = [];
  let failed = 0;
  const t0 = performance.now() + 20;
  let sent = 0;
  await new Promise<void>((done) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) * perSec) / 1000) + 1);
      while (sent < due) {
        const k = sent++;
        const dueAt = t0 + (k * 1000) / perSec;
        const at = performance.now();
        inflight.push(
          c.send("POST", PODS, { body: podBody(`r-${tag}-${k}`) }).then((r) => {
            const now = performance.now();
            if (!errors.check("paced create", r, 201)) failed++;
            fromDue.push(now - dueAt);
            fromSend.push(now - at);
          }),
        );
      }
      if (sent >= total) done();
      else setTimeout(tick, 1);
    };
    setTimeout(tick, 20);
  });
  const sendEnd = performance.now();
  await Promise.all(inflight);
  fromDue.sort((a, b) => a - b);
  fromSend.sort((a, b) => a - b);
  return {
    rate: perSec,
    seconds,
    sent: total,
    achievedPerSec: Math.round(total / ((sendEnd - t0) / 1000)),
    errors: failed,
    p50: round(pct(fromDue, 50), 2),
    p99: round(pct(fromDue, 99), 2),
    max: round(fromDue[fromDue.length - 1] ?? Number.NaN, 2),
    sendToReplyP99: round(pct(fromSend, 99), 2),
  };
}

/**
 * One pod, watched by `n` streams from one resourceVersion: even ones by
 * label, odd ones by metadata.name. A create primes every stream (skiff sends
 * the response headers with the first event); then `writes` merge patches,
 * each stamped with its send time, each awaited at every watcher before the
 * next.
 */
async function watchLatency(c: Client, n: number, writes: number) {
  const wc = new Client(c.creds, n + 8);
  const streams: Stream[] = [];
  try {
    const rv = (JSON.parse(errors.must("list rv", await c.send("GET", `${PODS}?limit=1`), 200).body.toString("utf8")) as { metadata: { resourceVersion: string } })
      .metadata.resourceVersion;
    const latencies: number[] = [];
    const lastPerWrite: number[] = [];
    const seen = new Map<number, { count: number; last: number }>();
    let waiting: { seq: number; resolve: () => void } | undefined;
    let errorEvents = 0;
    const onLine = (line: string) => {
      const now = performance.now();
      const ev = JSON.parse(line) as { type: string; object?: { metadata?: { annotations?: Record<string, string> } } };
      const ann = ev.object?.metadata?.annotations;
      if (ev.type === "ERROR") {
        if (++errorEvents <= 3) say(`watch ERROR event: ${line.slice(0, 300)}`);
        return;
      }
      if (!ann?.["skiff.bench/seq"]) return;
      const seq = Number(ann["skiff.bench/seq"]);
      const lat = now - Number(ann["skiff.bench/sent"]);
      if (seq > 0) latencies.push(lat);
      const s = seen.get(seq) ?? { count: 0, last: 0 };
      s.count++;
      s.last = Math.max(s.last, lat);
      seen.set(seq, s);
      if (waiting?.seq === seq && s.count >= n) waiting.resolve();
    };
    const waitAll = (seq: number, ms: number) =>
      new Promise<boolean>((resolve) => {
        if ((seen.get(seq)?.count ?? 0) >= n) return resolve(true);
        const timer = setTimeout(() => {
          waiting = undefined;
          resolve(false);
        }, ms);
        waiting = {
          seq,
          resolve: () => {
            clearTimeout(timer);
            waiting = undefined;
            resolve(true);
          },
        };
      });
    const label = `labelSelector=${encodeURIComponent(`${WATCH_LABEL}=yes`)}`;
    const field = `fieldSelector=${encodeURIComponent(`metadata.name=${WATCH_TARGET}`)}`;
    for (let i = 0; i < n; i++) {
      streams.push(wc.stream(`${PODS}?watch=1&resourceVersion=${rv}&${i % 2 === 0 ? label : field}&timeoutSeconds=3600`, onLine));
    }
    const stamp = (seq: number) => ({ "skiff.bench/seq": String(seq), "skiff.bench/sent": String(performance.now()) });
    errors.must("watch target create", await c.send("POST", PODS, { body: podBody(WATCH_TARGET, { [WATCH_LABEL]: "yes" }, stamp(0)) }), 201);
    if (!(await waitAll(0, 120_000))) {
      const statuses = await Promise.all(streams.map((s) => Promise.race([s.response.catch((e: Error) => e.message), sleep(10).then(() => "pending")])));
      const tally: Record<string, number> = {};
      for (const s of statuses) tally[String(s)] = (tally[String(s)] ?? 0) + 1;
      throw new Error(`only ${seen.get(0)?.count ?? 0} of ${n} watchers saw the first event; stream states ${JSON.stringify(tally)}`);
    }
    say(`watch: ${n} streams open`);
    let missed = 0;
    for (let seq = 1; seq <= writes; seq++) {
      const body = JSON.stringify({ metadata: { annotations: stamp(seq) } });
      errors.must("watch patch", await c.send("PATCH", `${PODS}/${WATCH_TARGET}`, { body, headers: { "Content-Type": "application/merge-patch+json" } }), 200);
      if (!(await waitAll(seq, 10_000))) missed += n - (seen.get(seq)?.count ?? 0);
      lastPerWrite.push(seen.get(seq)?.last ?? Number.NaN);
      await sleep(smoke ? 5 : 20);
    }
    latencies.sort((a, b) => a - b);
    lastPerWrite.sort((a, b) => a - b);
    return {
      p50: round(pct(latencies, 50), 2),
      p99: round(pct(latencies, 99), 2),
      max: round(latencies[latencies.length - 1] ?? Number.NaN, 2),
      lastWatcherP50: round(pct(lastPerWrite, 50), 2),
      watchers: n,
      writes,
      events: latencies.length,
      missed,
    };
  } finally {
    for (const s of streams) s.close();
    wc.close();
  }
}

const dir = mkdtempSync(join(tmpdir(), "skiff-bench-api-"));
const children: Child[] = [];
const serverNodeArgs = [...values["server-node-arg"]!];
if (values["server-cpu-prof"]) serverNodeArgs.push("--cpu-prof", `--cpu-prof-dir=${resolve(values["server-cpu-prof"])}`);
const result: Record<string, unknown> = {
  bench: "api",
  smoke,
  windowSeconds: windowSec,
  clients,
  cpus: availableParallelism(),
  createsPerSec: null,
  getsPerSec: null,
  server: values["server-main"] ? "built" : "source (tsx)",
  listPods,
  fillCreatesPerSec: null,
  list10kMs: null,
  tableServed: null,
  listBytes: null,
  watchLatencyMs: null,
  mutatingP99MsAt1000: null,
  paced: null,
  rssMB: null,
  bare: null,
  ratios: null,
  rbac: null,
  targets: null,
};

/** Roles (and RoleBindings) in place for the RBAC figure. */
const RBAC_ROLES = smoke ? 20 : 200;

/**
 * GETs/s of plain users authorized by RBAC: `bench-rbac-admin` through a
 * ClusterRoleBinding to cluster-admin alone, `bench-rbac-roles` through the
 * last of RBAC_ROLES Roles, each bound to it by its own RoleBinding (the
 * others grant unrelated resources, so every rule is visited). The admin
 * user is measured once before the Roles exist, then both users in
 * alternating windows (3 rounds) so a noisy machine hits both alike; the
 * ratio is of the alternating windows' medians.
 */
async function rbacFigure(admin: Client, creds: Credentials, tlsDir: string, getPath: string) {
  const ca = { certPem: readFileSync(join(tlsDir, "client-ca.crt"), "utf8"), keyPem: readFileSync(join(tlsDir, "client-ca.key"), "utf8") };
  const clientFor = async (user: string) => {
    const cert = await issueCertificate({ ca, commonName: user, usages: ["client"], validDays: 1 });
    return new Client({ ...creds, cert: cert.certPem, key: cert.keyPem }, clients);
  };
  const rbac = "/apis/rbac.authorization.k8s.io/v1";
  const subject = (name: string) => [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name }];
  const ac = await clientFor("bench-rbac-admin");
  const rc = await clientFor("bench-rbac-roles");
  const waitAllowed = async (c: Client) => {
    for (let i = 0; i < 400; i++) {
      if ((await c.send("GET", getPath)).status === 200) return;
      await sleep(25);
    }
    throw new Error("RBAC change did not take effect");
  };
  const gets = (c: Client) => measured(clients, () => async () => errors.check("rbac get", await c.send("GET", getPath), 200));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  try {
    const crb = {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "bench-rbac-admin" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
      subjects: subject("bench-rbac-admin"),
    };
    errors.must("crb create", await admin.send("POST", `${rbac}/clusterrolebindings`, { body: JSON.stringify(crb) }), 201);
    await waitAllowed(ac);
    say("RBAC: GETs via cluster-admin only, before any Role exists");
    const beforeRoles = await gets(ac);
    for (let i = 0; i < RBAC_ROLES; i++) {
      const last = i === RBAC_ROLES - 1;
      const role = {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: `bench-role-${i}`, namespace: NS },
        rules: [last ? { apiGroups: [""], resources: ["pods"], verbs: ["get"] } : { apiGroups: ["bench.skiff.io"], resources: [`widgets${i}`], verbs: ["get", "list"] }],
      };
      errors.must("role create", await admin.send("POST", `${rbac}/namespaces/${NS}/roles`, { body: JSON.stringify(role) }), 201);
      const rb = {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: `bench-rb-${i}`, namespace: NS },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
        subjects: subject("bench-rbac-roles"),
      };
      errors.must("rolebinding create", await admin.send("POST", `${rbac}/namespaces/${NS}/rolebindings`, { body: JSON.stringify(rb) }), 201);
    }
    await waitAllowed(rc);
    const viaAdmin: number[] = [];
    const viaRoles: number[] = [];
    for (let round = 0; round < 3; round++) {
      say(`RBAC round ${round + 1}/3: GETs via cluster-admin, then via the last of ${RBAC_ROLES} Roles`);
      viaAdmin.push(await gets(ac));
      viaRoles.push(await gets(rc));
    }
    const a = median(viaAdmin);
    const r = median(viaRoles);
    return { roles: RBAC_ROLES, roleBindings: RBAC_ROLES, getsPerSecOnlyClusterAdminBeforeRoles: beforeRoles, getsPerSecOnlyClusterAdmin: viaAdmin, getsPerSecWithRoles: viaRoles, ratio: round(r / a, 3) };
  } finally {
    ac.close();
    rc.close();
  }
}
try {
  say(`starting skiff server in ${dir}`);
  const server = await startSkiffServer(join(dir, "skiff"), {
    nodeArgs: serverNodeArgs,
    main: values["server-main"] ? resolve(values["server-main"]) : undefined,
    logFile: values["server-log"] ? resolve(values["server-log"]) : undefined,
    // The API server's own figures: the controller manager and scheduler (their
    // watches, caches and thread) are measured by bench:scheduler and bench:controllers.
    extraArgs: values["with-components"] ? [] : ["--disable", "controller-manager", "scheduler"],
  });
  children.push(server);
  say(`server pid ${server.pid} port ${server.port}`);
  const creds = readKubeconfig(server.kubeconfig);
  const c = new Client(creds, clients);
  await sleep(smoke ? 500 : 2000);
  const rss: Record<string, number | null> = { startup: rssMB(server.pid).rss, idle: null, with10kPods: null, afterLists: null, peak: null };
  result.rssMB = rss;
  say(`RSS 2 s after start ${rss.startup} MB; idle for ${idleSettleSec} s`);
  // V8 hands startup garbage back only once the process has been idle a while
  // (its memory reducer: tens of seconds), so "idle" is measured after that.
  await sleep(idleSettleSec * 1000);
  rss.idle = rssMB(server.pid).rss;
  say(`idle RSS ${rss.idle} MB`);
  errors.must("namespace create", await c.send("POST", "/api/v1/namespaces", { body: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }) }), 201);
  // The controller manager (whose ServiceAccount controller makes it) is off: ServiceAccount admission needs `default`.
  const sa = await c.send("POST", `/api/v1/namespaces/${NS}/serviceaccounts`, { body: JSON.stringify({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default" } }) });
  if (sa.status !== 409) errors.must("serviceaccount create", sa, 201);

  // The ceiling runs beside the server, each of its windows right after
  // skiff's matching one, so drift on a shared machine hits both alike.
  let bc: Client | undefined;
  const bareFig: { getsPerSec: number | null; postsPerSec: number | null; rssMB: { idle: number } | null } = { getsPerSec: null, postsPerSec: null, rssMB: null };
  if (run("bare")) {
    const tls = join(dir, "skiff", "tls");
    const bare = await startBareServer({
      keyFile: join(tls, "serving-kube-apiserver.key"),
      certFile: join(tls, "serving-kube-apiserver.crt"),
      clientCaFile: join(tls, "client-ca.crt"),
    });
    children.push(bare);
    bc = new Client({ ...creds, port: bare.port }, clients);
    await sleep(smoke ? 200 : 1000);
    bareFig.rssMB = { idle: rssMB(bare.pid).rss };
    say(`bare server pid ${bare.pid} port ${bare.port}, idle RSS ${bareFig.rssMB.idle} MB`);
  }
  const bareGets = async (path: string) => {
    if (!bc) return;
    say(`bare server: GETs with ${clients} clients`);
    bareFig.getsPerSec = await measured(clients, () => async () => errors.check("bare get", await bc!.send("GET", path), 200));
  };
  const barePosts = async () => {
    if (!bc) return;
    say(`bare server: POSTs with ${clients} clients`);
    bareFig.postsPerSec = await measured(clients, (tag) => async (w, i) => errors.check("bare post", await bc!.send("POST", PODS, { body: podBody(`c-${tag}-${w}-${i}`) }), 201));
  };

  let getTarget = "get-target";
  if (run("list")) {
    say(`filling ${listPods} pods`);
    result.fillCreatesPerSec = await fill(c, listPods);
    await sleep(smoke ? 200 : 1000);
    rss.with10kPods = rssMB(server.pid).rss;
    say(`RSS with ${listPods} pods ${rss.with10kPods} MB; LIST json`);
    const json = await listMs(c, "application/json", listPods);
    say(`LIST table`);
    const table = await listMs(c, TABLE_ACCEPT, listPods);
    result.list10kMs = { json: json.ms, table: table.ms };
    result.tableServed = table.kind === "Table";
    result.listBytes = { json: json.bytes, table: table.bytes };
    rss.afterLists = rssMB(server.pid).rss;
    getTarget = "p-00000";
  } else {
    errors.must("get target create", await c.send("POST", PODS, { body: podBody(getTarget) }), 201);
  }
  const getPath = `${PODS}/${getTarget}`;

  if (run("gets")) {
    say(`GETs with ${clients} clients`);
    result.getsPerSec = await measured(clients, () => async () => errors.check("get", await c.send("GET", getPath), 200));
    await bareGets(getPath);
  }
  if (run("rbac")) result.rbac = await rbacFigure(c, creds, join(dir, "skiff", "tls"), getPath);
  if (run("creates")) {
    say(`creates with ${clients} clients`);
    result.createsPerSec = await measured(clients, (tag) => async (w, i) => errors.check("create", await c.send("POST", PODS, { body: podBody(`c-${tag}-${w}-${i}`) }), 201));
    await barePosts();
  }
  if (run("paced")) {
    say(`paced creates at ${rate}/s for ${windowSec}s`);
    const pc = new Client(creds, 256);
    try {
      await paced(pc, rate, warmSec, "warm");
      const p = await paced(pc, rate, windowSec, "run");
      result.paced = p;
      result.mutatingP99MsAt1000 = p.p99;
    } finally {
      pc.close();
    }
  }
  if (run("watch")) {
    say(`watch latency: ${watchers} watchers, ${watchWrites} writes`);
    result.watchLatencyMs = await watchLatency(c, watchers, watchWrites);
  }
  rss.peak = rssMB(server.pid).peak;
  c.close();
  if (bc) {
    if (bareFig.getsPerSec === null) await bareGets(getPath);
    if (bareFig.postsPerSec === null) await barePosts();
    bc.close();
    result.bare = bareFig;
    const ratio = (a: unknown, b: number | null) => (typeof a === "number" && b ? round(a / b, 3) : null);
    result.ratios = {
      getsVsBare: ratio(result.getsPerSec, bareFig.getsPerSec),
      createsVsBarePosts: ratio(result.createsPerSec, bareFig.postsPerSec),
      createsVsBareGets: ratio(result.createsPerSec, bareFig.getsPerSec),
    };
  }

  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
  const list = result.list10kMs as { json: number; table: number } | null;
  const watch = result.watchLatencyMs as { p99: number; missed: number } | null;
  const check = (v: number | undefined, ok: (x: number) => boolean) => (v === undefined ? null : ok(v));
  result.targets = {
    createsPerSecAtLeast3000: check(num(result.createsPerSec), (x) => x >= 3000),
    mutatingP99At1000AtMost50ms: check(num(result.mutatingP99MsAt1000), (x) => x <= 50),
    list10kAtMost300ms: list ? list.json <= 300 && list.table <= 300 : null,
    watchP99AtMost100ms: watch ? watch.p99 <= 100 && watch.missed === 0 : null,
    idleRssAtMost100MB: check(num(rss.idle), (x) => x <= 100),
    rbacRatioAtLeast0_9: result.rbac ? (result.rbac as { ratio: number }).ratio >= 0.9 : null,
  };
  result.errors = errors.counts;
  process.stdout.write(JSON.stringify(result) + "\n");
} finally {
  for (const ch of children.reverse()) await ch.stop().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}
