/**
 * `npm run e2e:expense`: the notes' deployment, end to end, on a fresh
 * one-node cluster (issue 9). It starts its own `skiff server` (a temporary
 * data dir, any free API port, its own node with test-only pod and Service
 * ranges), then:
 *
 *  1. imports the Debian base images (`skiff image base`, from the cache
 *     `.ci/run` fills) into the cluster registry;
 *  2. installs the backend's node_modules on the host (`npm ci --omit=dev`)
 *     and builds and pushes the three images with `skiff image build|push`
 *     (no step in them reaches the network);
 *  3. applies `examples/expense/k8s/` (image names moved to the registry's
 *     port when it is not 5000) and waits for the database, the schema Job,
 *     the backend and the frontend;
 *  4. adds an expense through the Ingress and reads it back;
 *  5. deletes the database pod, waits for its replacement and reads the
 *     expense again (it lives on the PersistentVolume);
 *  6. runs the notes' checks through `kubectl exec` into the database pod:
 *     the schema, the tables and the app's user exist.
 *
 * Each step prints its time; the last line is a summary. On failure it
 * prints the namespace's state, events, `skiff doctor` and the server log's
 * tail, and exits 1. Everything it made is removed at the end (pods,
 * server, the node's network, cgroups and mounts, the data dir) unless
 * `--keep`.
 *
 * Traffic stays on this machine: the server listens on loopback (API,
 * registry, ingress); the node's address, which pods reach the cluster DNS
 * at, is a test-only address on an empty bridge this script makes; the
 * cluster DNS forwards outside names to an address where nothing listens.
 * Needs root (runc, CNI, nftables) and buildah.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { addHostAddress, cleanupNode, nodeIdentity, nodeLeftovers, writeKubeletConfig } from "../test/support/node-cluster.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const cliMain = join(repoRoot, "src", "cli", "main.ts");
const appDir = join(repoRoot, "examples", "expense");
const testResolvConf = join(repoRoot, "test", "fixtures", "resolv.conf");
const NS = "expense";
/** The registry port the manifests and Dockerfiles name. */
const MANIFEST_REGISTRY = "localhost:5000";

/** This script's ranges: no test uses 10.180–10.182. */
const CLUSTER_CIDR = "10.180.0.0/16";
const SERVICE_CIDR = "10.181.0.0/16";

const HELP = `Usage: npm run e2e:expense -- [options]

Deploys examples/expense on a fresh one-node skiff cluster and checks it end to end:
build and push the images, apply the manifests, add and read an expense through the
Ingress, restart the database pod and read it again, check the schema, tables and user.

Options:
  --ingress-port N    the ingress controller's HTTP port on 127.0.0.1 (default 80 when free, else any)
  --registry-port N   the cluster registry's port (default 5000 when free, else any)
  --suite NAME        the Debian suite of the base images (default: skiff image base's)
  --timeout S         how long each wait may take, in seconds (default 300)
  --keep              leave the cluster running at the end (prints how to reach and remove it)
  -h, --help          show this help
`;

interface Options {
  readonly ingressPort?: number;
  readonly registryPort?: number;
  readonly suite?: string;
  readonly timeoutMs: number;
  readonly keep: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      "ingress-port": { type: "string" },
      "registry-port": { type: "string" },
      suite: { type: "string" },
      timeout: { type: "string", default: "300" },
      keep: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const port = (v: string | undefined, flag: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${flag}: expected a port number (0-65535), got ${JSON.stringify(v)}`);
    return n;
  };
  const timeout = Number(values.timeout);
  if (!(timeout > 0)) throw new Error(`--timeout: expected seconds, got ${JSON.stringify(values.timeout)}`);
  return {
    ...(values["ingress-port"] !== undefined ? { ingressPort: port(values["ingress-port"], "--ingress-port") } : {}),
    ...(values["registry-port"] !== undefined ? { registryPort: port(values["registry-port"], "--registry-port") } : {}),
    ...(values.suite !== undefined ? { suite: values.suite } : {}),
    timeoutMs: timeout * 1000,
    keep: values.keep,
  };
}

// ---- output -------------------------------------------------------------

const started = Date.now();
const timings: { step: string; seconds: number }[] = [];

function say(line: string): void {
  process.stdout.write(`[e2e:expense ${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
}

/** Runs one named step, printing its duration. */
async function step<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
  say(`▶ ${name}`);
  const t0 = Date.now();
  const v = await fn();
  const seconds = (Date.now() - t0) / 1000;
  timings.push({ step: name, seconds });
  say(`✓ ${name} (${seconds.toFixed(1)} s)`);
  return v;
}

// ---- processes ----------------------------------------------------------

interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion without blocking the event loop; `echo` streams its output as it comes. */
function run(cmd: string, args: readonly string[], o: { input?: string; echo?: boolean; cwd?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: o.cwd ?? repoRoot, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs ?? 600_000);
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
      if (o.echo) process.stdout.write(indent(d.toString()));
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
      if (o.echo) process.stdout.write(indent(d.toString()));
    });
    child.on("error", (err) => {
      stderr += err.message;
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ status: code ?? -1, stdout, stderr });
    });
    child.stdin.end(o.input ?? "");
  });
}

function indent(text: string): string {
  return text.replace(/^(?=.)/gm, "    ");
}

function ok(r: Run, what: string): string {
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}):\n${(r.stderr || r.stdout).trim().slice(-3000)}`);
  return r.stdout;
}

/** `skiff ARGS…` from source, as `npx skiff` runs the build. */
function skiff(args: readonly string[], o: { echo?: boolean; input?: string } = {}): Promise<Run> {
  return run(process.execPath, ["--import", "tsx", cliMain, ...args], o);
}

/** A port that is free on 127.0.0.1 right now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/** A failure that waiting longer cannot fix. */
class StartError extends Error {}

/** Polls `fn` until it returns a value; errors count as "not yet" (the last one is reported), except a {@link StartError}. */
async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined> | T | undefined, intervalMs = 1000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      if (err instanceof StartError) throw err;
      last = (err as Error).message;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${last}` : ""}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// ---- HTTP through the ingress ---------------------------------------------

function http(port: number, method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method,
        path,
        agent: false,
        timeout: 15_000,
        headers: data ? { "content-type": "application/json", "content-length": Buffer.byteLength(data) } : {},
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          text += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on("error", reject);
    req.end(data);
  });
}

interface Expense {
  id: number;
  description: string;
  amount: number;
  date: string;
}

// ---- the cluster ----------------------------------------------------------

interface Cluster {
  readonly dataDir: string;
  readonly kubeconfig: string;
  readonly logFile: string;
  readonly process: ChildProcess;
  readonly registryPort: number;
  readonly ingressPort: number;
  kubectl(args: readonly string[], input?: string): Promise<Run>;
  logTail(chars?: number): string;
}

/** The `key=N` of the first log line that matches `re` and has one. */
function logPort(log: string, re: RegExp, key: string): number | undefined {
  const field = new RegExp(`\\b${key}=(\\d+)`);
  for (const line of log.split("\n")) {
    const m = re.test(line) ? field.exec(line) : null;
    if (m) return Number(m[1]);
  }
  return undefined;
}

/** An address in 10.182.N.0/24 no interface has, on a new empty bridge (so it is local to this machine and nothing sent to it leaves). */
/** Puts a free 10.182.N.1 on a new empty bridge `link` (nothing sent to it leaves the machine); returns the address. */
function addFreeHostAddress(link: string): string {
  for (;;) {
    const address = `10.182.${randomInt(1, 255)}.1`;
    const used = spawnSync("ip", ["-4", "-o", "addr", "show", "to", `${address.replace(/\.1$/, ".0")}/24`], { encoding: "utf8" }).stdout.trim();
    if (used !== "") continue;
    addHostAddress(link, address);
    return address;
  }
}

/** Whether the failure was already printed (with the cluster's state). */
let reported = false;

/** Everything to undo, in reverse order. */
const undo: { what: string; fn: () => Promise<void> | void }[] = [];

async function startCluster(o: Options): Promise<Cluster> {
  const dataDir = mkdtempSync(join(tmpdir(), "skiff-e2e-expense-"));
  undo.push({ what: `remove ${dataDir}`, fn: () => rmSync(dataDir, { recursive: true, force: true }) });
  const node = nodeIdentity();
  const kubeletConfig = writeKubeletConfig(dataDir, node);
  const ranges = { clusterCidr: CLUSTER_CIDR, serviceCidr: SERVICE_CIDR };
  // Registered before the server starts, so a failed start still cleans the node's host state.
  undo.push({
    what: "clean up the node (skiff agent --cleanup)",
    fn: () => {
      cleanupNode(dataDir, node, kubeletConfig, ranges);
      const left = nodeLeftovers({ ...node, dataDir });
      if (left.length > 0) throw new Error(`left on the host: ${left.join(", ")}`);
    },
  });
  const link = `${node.bridge}h`;
  const nodeIP = addFreeHostAddress(link);
  undo.push({ what: `delete link ${link}`, fn: () => void spawnSync("ip", ["link", "del", link]) });

  const registryPort = o.registryPort ?? ((await portFree(5000)) ? 5000 : 0);
  const ingressPort = o.ingressPort ?? ((await portFree(80)) ? 80 : 0);
  const logFile = join(dataDir, "server.log");
  const fd = openSync(logFile, "a");
  // The log goes to a file, not a pipe: a pipe nobody reads while kubectl runs would stall the server.
  const proc = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      cliMain,
      "server",
      "--data-dir",
      dataDir,
      "--https-port",
      "0",
      "--bind-address",
      "127.0.0.1",
      "--no-kubeconfig-merge",
      "--disable-snapshots",
      "--node-name",
      node.nodeName,
      "--node-ip",
      nodeIP,
      "--kubelet-port",
      "0",
      "--kubelet-config",
      kubeletConfig,
      "--cluster-cidr",
      CLUSTER_CIDR,
      "--service-cidr",
      SERVICE_CIDR,
      "--cluster-dns-port",
      "0",
      "--resolv-conf",
      testResolvConf,
      "--ingress-http-port",
      String(ingressPort),
      "--ingress-https-port",
      "0",
      "--registry-port",
      String(registryPort),
    ],
    { cwd: repoRoot, stdio: ["ignore", fd, fd] },
  );
  closeSync(fd);
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  undo.push({
    what: `stop skiff server (pid ${proc.pid})`,
    fn: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(t);
    },
  });
  const readLog = () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");
  const ports = await until("the server to listen", 120_000, () => {
    if (proc.exitCode !== null) throw new StartError(`skiff server exited with ${proc.exitCode}`);
    const log = readLog();
    const api = logPort(log, /msg="API server listening"/, "port");
    if (api === undefined) return undefined;
    // Both start beside the API server, not before it: wait for their lines, fail at once on their errors.
    for (const what of ["image registry", "ingress controller"]) {
      const failed = log.split("\n").find((l) => l.includes(`msg="the ${what} could not start`));
      if (failed) throw new StartError(`the ${what} could not start: ${failed}`);
    }
    const registry = logPort(log, /msg="image registry listening"/, "port");
    const ingress = logPort(log, /msg="ingress controller listening"/, "http");
    return registry !== undefined && ingress !== undefined ? { api, registry, ingress } : undefined;
  }).catch((err: Error) => {
    throw new Error(`${err.message}\n--- server log (tail) ---\n${readLog().slice(-4000)}`);
  });
  const kubeconfig = join(dataDir, "kubeconfig.yaml");
  const cluster: Cluster = {
    dataDir,
    kubeconfig,
    logFile,
    process: proc,
    registryPort: ports.registry,
    ingressPort: ports.ingress,
    kubectl: (args, input) => run("kubectl", ["--kubeconfig", kubeconfig, ...args], { ...(input !== undefined ? { input } : {}), timeoutMs: o.timeoutMs + 30_000 }),
    logTail: (chars = 6000) => readLog().slice(-chars),
  };
  say(`server: API on 127.0.0.1:${ports.api}, registry localhost:${ports.registry}, ingress 127.0.0.1:${ports.ingress}, node ${node.nodeName} at ${nodeIP}, data dir ${dataDir}`);
  // Pods first at the end, so their containers, mounts and volumes go the way a user's would.
  undo.push({
    what: "delete the pods",
    fn: async () => {
      // The namespace first (no wait: its finalization is slow), so no controller makes new pods meanwhile.
      await cluster.kubectl(["delete", "namespace", NS, "--ignore-not-found", "--wait=false"]);
      await cluster.kubectl(["delete", "pods", "--all", "--all-namespaces", "--grace-period", "1", "--wait=true", "--timeout", "60s"]);
    },
  });
  await until(`node ${node.nodeName} to be Ready`, o.timeoutMs, async () => {
    const r = await cluster.kubectl(["get", "node", node.nodeName, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}"]);
    return r.stdout.trim() === "True" ? true : undefined;
  });
  return cluster;
}

// ---- the steps --------------------------------------------------------------

/** The base images the Dockerfiles start from, pushed to the cluster registry; returns their names there. */
async function pushBaseImages(c: Cluster, o: Options): Promise<{ nodejs: string; mariadb: string }> {
  const names = { nodejs: "", mariadb: "" };
  for (const [key, pkg] of [
    ["nodejs", "nodejs"],
    ["mariadb", "mariadb-server"],
  ] as const) {
    const args = ["image", "base", "--data-dir", c.dataDir, "--with", pkg, "--registry", `localhost:${c.registryPort}`];
    if (o.suite) args.push("--suite", o.suite);
    const r = await skiff(args, { echo: true });
    // It prints what it pushed as NAME@DIGEST: the Dockerfiles start FROM exactly that.
    const name = ok(r, `skiff image base --with ${pkg}`).trim().split("\n").at(-1);
    if (!name) throw new Error(`skiff image base --with ${pkg} did not say which image it pushed:\n${r.stderr}`);
    names[key] = name;
  }
  return names;
}

async function buildAndPush(c: Cluster, bases: { nodejs: string; mariadb: string }): Promise<Record<string, string>> {
  const backendDir = join(appDir, "backend");
  ok(await run("npm", ["ci", "--omit=dev", "--omit=peer", "--no-audit", "--no-fund"], { cwd: backendDir, echo: true }), "npm ci in examples/expense/backend");
  const images: Record<string, string> = {};
  for (const [name, base] of [
    ["backend", bases.nodejs],
    ["frontend", bases.nodejs],
    ["db", bases.mariadb],
  ] as const) {
    const tag = `localhost:${c.registryPort}/expense/${name}:1`;
    say(`building ${tag} FROM ${base}`);
    ok(await skiff(["image", "build", "--data-dir", c.dataDir, "-t", tag, "--build-arg", `BASE_IMAGE=${base}`, join(appDir, name)], { echo: true }), `skiff image build ${tag}`);
    say(`pushing ${tag}`);
    ok(await skiff(["image", "push", "--data-dir", c.dataDir, tag], { echo: true }), `skiff image push ${tag}`);
    images[name] = tag;
  }
  return images;
}

/** The manifests, in file order, with image names moved to the registry's port. */
function manifests(registryPort: number): string {
  const dir = join(appDir, "k8s");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => readFileSync(join(dir, f), "utf8").replaceAll(`${MANIFEST_REGISTRY}/`, `localhost:${registryPort}/`))
    .join("\n---\n");
}

async function waitReady(c: Cluster, o: Options): Promise<void> {
  const t = `${Math.round(o.timeoutMs / 1000)}s`;
  const waits: [string, string[]][] = [
    ["statefulset/mysql", ["rollout", "status", "-n", NS, "statefulset/mysql", "--timeout", t]],
    ["job/expense-schema", ["wait", "-n", NS, "--for=condition=Complete", "job/expense-schema", "--timeout", t]],
    ["deployment/backend", ["rollout", "status", "-n", NS, "deployment/backend", "--timeout", t]],
    ["deployment/frontend", ["rollout", "status", "-n", NS, "deployment/frontend", "--timeout", t]],
  ];
  for (const [what, args] of waits) {
    const t0 = Date.now();
    ok(await c.kubectl(args), `waiting for ${what}`);
    say(`  ${what} ready (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
}

async function listThroughIngress(c: Cluster): Promise<Expense[]> {
  const r = await http(c.ingressPort, "GET", "/api/expenses");
  if (r.status !== 200) throw new Error(`GET /api/expenses through the ingress: ${r.status} ${r.body.slice(0, 300)}`);
  return JSON.parse(r.body) as Expense[];
}

/** The DB pod's uid and Ready condition. */
async function dbPod(c: Cluster): Promise<{ uid: string; ready: boolean } | undefined> {
  const r = await c.kubectl(["get", "pod", "mysql-0", "-n", NS, "-o", "jsonpath={.metadata.uid} {.status.conditions[?(@.type=='Ready')].status} {.metadata.deletionTimestamp}"]);
  if (r.status !== 0) return undefined;
  const [uid, ready, deleting] = r.stdout.trim().split(" ");
  return uid ? { uid, ready: ready === "True" && !deleting } : undefined;
}

/** Runs SQL in the DB pod as root (the password from the pod's own Secret-backed env), returns the rows (tab-separated, no header). */
async function sqlInDbPod(c: Cluster, sql: string): Promise<string[]> {
  const r = await c.kubectl(["exec", "-n", NS, "mysql-0", "-c", "mysql", "--", "sh", "-c", 'exec mariadb -uroot -p"$MARIADB_ROOT_PASSWORD" --batch --skip-column-names -e "$0"', sql]);
  return ok(r, `kubectl exec mysql-0 -- mariadb -e ${JSON.stringify(sql)}`)
    .split("\n")
    .filter((l) => l !== "");
}

async function dumpState(c: Cluster): Promise<void> {
  process.stdout.write("\n===== state at failure =====\n");
  for (const args of [
    ["get", "all,pvc,pv,ingress,job", "-n", NS, "-o", "wide"],
    ["get", "events", "-n", NS, "--sort-by", ".lastTimestamp"],
    ["describe", "pods", "-n", NS],
  ]) {
    const r = await c.kubectl(args);
    process.stdout.write(`--- kubectl ${args.join(" ")}\n${r.stdout}${r.stderr}\n`);
  }
  for (const pod of (await c.kubectl(["get", "pods", "-n", NS, "-o", "jsonpath={.items[*].metadata.name}"])).stdout.split(" ").filter(Boolean)) {
    const r = await c.kubectl(["logs", "-n", NS, pod, "--all-containers", "--tail", "30"]);
    process.stdout.write(`--- kubectl logs ${pod} (last 30 lines)\n${r.stdout}${r.stderr}\n`);
  }
  const d = await skiff(["doctor", "-n", NS, "--kubeconfig", c.kubeconfig, "--data-dir", c.dataDir]);
  process.stdout.write(`--- skiff doctor -n ${NS} (exit ${d.status})\n${d.stdout}${d.stderr}\n`);
  process.stdout.write(`--- server log (tail)\n${c.logTail()}\n`);
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error("needs root: the node runs pods with runc, CNI and nftables");
  if (spawnSync("buildah", ["--version"]).status !== 0) throw new Error("needs buildah (Debian package buildah) for skiff image build");

  const c = await step("start a fresh one-node cluster", () => startCluster(o));
  try {
    const bases = await step("push the Debian base images into the cluster registry (skiff image base)", () => pushBaseImages(c, o));
    const images = await step("build and push backend, frontend and db (skiff image build/push)", () => buildAndPush(c, bases));
    say(`images: ${Object.values(images).join(", ")}`);
    await step("kubectl apply -f examples/expense/k8s/", async () => {
      ok(await c.kubectl(["apply", "-f", "-"], manifests(c.registryPort)), "kubectl apply");
    });
    await step("wait for the database, the schema Job, the backend and the frontend", () => waitReady(c, o));

    const description = `e2e lunch ${randomBytes(4).toString("hex")}`;
    const added = await step("add an expense through the Ingress and read it back", async () => {
      const page = await until("the frontend's page through the ingress", o.timeoutMs, async () => {
        const r = await http(c.ingressPort, "GET", "/");
        return r.status === 200 ? r.body : undefined;
      });
      if (!page.includes("<h1>Expenses</h1>")) throw new Error(`GET / through the ingress is not the expense app's page:\n${page.slice(0, 500)}`);
      const r = await until("POST /api/expenses through the ingress", o.timeoutMs, async () => {
        const res = await http(c.ingressPort, "POST", "/api/expenses", { description, amount: 12.5, date: "2026-11-29" });
        if (res.status !== 201) throw new Error(`${res.status} ${res.body.slice(0, 300)}`);
        return JSON.parse(res.body) as Expense;
      });
      const back = (await listThroughIngress(c)).find((e) => e.id === r.id);
      if (!back || back.description !== description || Number(back.amount) !== 12.5 || back.date !== "2026-11-29") {
        throw new Error(`the expense read back is not the one added: added ${JSON.stringify(r)}, read ${JSON.stringify(back)}`);
      }
      say(`  expense #${r.id} "${description}" 12.50 on 2026-11-29 stored and read back`);
      return r;
    });

    await step("delete the database pod, wait for its replacement, read the expense again", async () => {
      const before = await dbPod(c);
      if (!before) throw new Error("no pod mysql-0");
      ok(await c.kubectl(["delete", "pod", "mysql-0", "-n", NS, "--wait=true", "--timeout", `${Math.round(o.timeoutMs / 1000)}s`]), "kubectl delete pod mysql-0");
      const after = await until("a new mysql-0 to be Ready", o.timeoutMs, async () => {
        const p = await dbPod(c);
        return p && p.uid !== before.uid && p.ready ? p : undefined;
      });
      say(`  mysql-0 replaced (uid ${before.uid.slice(0, 8)} → ${after.uid.slice(0, 8)})`);
      // The backend's pooled connections died with the old pod; it reconnects (and is not Ready until it can).
      const again = await until("the expense through the ingress after the restart", o.timeoutMs, async () => (await listThroughIngress(c)).find((e) => e.id === added.id));
      if (again.description !== description) throw new Error(`after the restart expense #${added.id} reads ${JSON.stringify(again)}`);
      say(`  expense #${again.id} "${again.description}" survived on the volume`);
    });

    await step("the notes' DB checks through kubectl exec: schema, tables, user", async () => {
      const schema = await sqlInDbPod(c, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'expense'");
      if (schema[0] !== "expense") throw new Error(`schema expense not found (got ${JSON.stringify(schema)})`);
      say("  schema: expense exists");
      const tables = await sqlInDbPod(c, "SHOW TABLES FROM expense");
      if (!tables.includes("transactions")) throw new Error(`table expense.transactions not found (tables: ${JSON.stringify(tables)})`);
      say(`  tables: ${tables.join(", ")}`);
      const users = await sqlInDbPod(c, "SELECT CONCAT(User, '@', Host) FROM mysql.user WHERE User = 'expense'");
      if (!users.includes("expense@%")) throw new Error(`user expense@% not found (got ${JSON.stringify(users)})`);
      const grants = await sqlInDbPod(c, "SHOW GRANTS FOR 'expense'@'%'");
      // The app's grant only: the USAGE line carries the password hash, which has no place in a log.
      const appGrant = grants.find((g) => /^GRANT .*INSERT.* ON `expense`\.\*/.test(g));
      if (!appGrant) throw new Error(`user expense@% cannot write expense.*: ${grants.filter((g) => !g.includes("PASSWORD")).join("; ")}`);
      say(`  users: ${users.join(", ")} (${appGrant})`);
      const rows = await sqlInDbPod(c, `SELECT COUNT(*) FROM expense.transactions WHERE description = '${description}'`);
      if (rows[0] !== "1") throw new Error(`expected the expense once in expense.transactions, got ${JSON.stringify(rows)}`);
    });

    const total = (Date.now() - started) / 1000;
    say(`PASS e2e:expense in ${total.toFixed(1)} s: ${timings.map((t) => `${t.step.split(" (")[0]} ${t.seconds.toFixed(1)}s`).join("; ")}`);
    process.stdout.write(`${JSON.stringify({ e2e: "expense", ok: true, seconds: Number(total.toFixed(1)), steps: timings.map((t) => ({ step: t.step, seconds: Number(t.seconds.toFixed(1)) })) })}\n`);
  } catch (err) {
    say(`FAIL: ${(err as Error).message}`);
    reported = true;
    await dumpState(c).catch((e: Error) => say(`(could not dump the state: ${e.message})`));
    throw err;
  } finally {
    if (o.keep) {
      say(`--keep: the cluster runs on (server pid ${c.process.pid}); KUBECONFIG=${c.kubeconfig}; ingress http://127.0.0.1:${c.ingressPort}/`);
      say(`  to remove it: kill ${c.process.pid}, then skiff agent --cleanup --data-dir ${c.dataDir} … and rm -rf ${c.dataDir}`);
      undo.length = 0;
    }
  }
}

async function cleanup(): Promise<boolean> {
  let clean = true;
  while (undo.length > 0) {
    const u = undo.pop()!;
    try {
      await u.fn();
    } catch (err) {
      clean = false;
      say(`cleanup: ${u.what} failed: ${(err as Error).message}`);
    }
  }
  return clean;
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  if (!reported) say(`FAIL: ${(err as Error).message}`);
}
const t0 = Date.now();
const clean = await cleanup();
say(`cleanup ${clean ? "done" : "INCOMPLETE"} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
process.exit(failed || !clean ? 1 : 0);
