/**
 * The runc runtime against the real runc, conmon and kernel (needs root):
 * the shared runtime suite, then what only a real runtime shows — logs,
 * OOM kills, signals, adoption after the agent is gone, and that nothing
 * is left on the host afterwards.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, writeFileSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { runtimeConformance } from "../conformance.js";
import type { ContainerConfig, ContainerEvent, PodSandboxConfig, RuntimeResult } from "../types.js";
import { cgroupMountPoints } from "./cgroups.js";
import { mountPointsUnder } from "./mounts.js";
import { runCommand } from "./run-command.js";
import { DEFAULT_CONMON_PATH, DEFAULT_RUNC_PATH, RuncRuntime } from "./runc-runtime.js";
import { FixtureImageStore } from "./testing/fixture-image-store.js";
import { findLeftovers, forceCleanup } from "./testing/host-leftovers.js";
import { NetnsTestNetwork } from "./testing/netns-network.js";

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (runc, mounts, network namespaces)";
  for (const tool of [DEFAULT_RUNC_PATH, DEFAULT_CONMON_PATH, "/usr/bin/busybox"]) {
    try {
      accessSync(tool, constants.X_OK);
    } catch {
      return `${tool} is not installed`;
    }
  }
  return undefined;
}

const skip = skipReason();
const rand = randomBytes(3).toString("hex");
const tmp = skip ? "" : mkdtempSync("/tmp/skiff-runc-");
const cgroupParent = `/skiff-test-${rand}`;
const netnsPrefix = `skiff-t${rand}-`;
const images = skip
  ? undefined
  : new FixtureImageStore({
      dir: tmp,
      images: {
        "busybox:test": {},
        "busybox:app": { user: "app", workingDir: "/home/app", env: ["PATH=/bin", "FROM_IMAGE=yes"] },
        "busybox:usr1": { stopSignal: "SIGUSR1" },
      },
    });
const network = new NetnsTestNetwork({ prefix: netnsPrefix, subnet24: `10.250.${Number.parseInt(rand.slice(0, 2), 16)}` });
const roots: string[] = [];

function make(root = join(tmp, `rt${roots.length + 1}`)): RuncRuntime {
  if (!roots.includes(root)) roots.push(root);
  return new RuncRuntime({ rootDir: root, cgroupParent, network, images: images!, runcPath: DEFAULT_RUNC_PATH, conmonPath: DEFAULT_CONMON_PATH });
}

function value<T>(r: RuntimeResult<T>, what: string): T {
  if (!r.ok) assert.fail(`${what}: ${r.error.code}: ${r.error.message}`);
  return r.value;
}

async function eventually(what: string, check: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting for ${what}`);
}

let pods = 0;
function pod(over: Partial<PodSandboxConfig> = {}): PodSandboxConfig {
  const n = ++pods;
  const uid = `uid-${rand}-${n}`;
  return {
    metadata: { name: `pod-${n}`, namespace: "runc-test", uid, attempt: 0 },
    hostname: `pod-${n}`,
    logDirectory: join(tmp, "logs", `runc-test_pod-${n}_${uid}`),
    labels: { "io.kubernetes.pod.uid": uid },
    annotations: { kept: "yes" },
    ...over,
  };
}

function ctr(name: string, command: string[], over: Partial<ContainerConfig> = {}): ContainerConfig {
  return {
    metadata: { name, attempt: 0 },
    image: "busybox:test",
    command,
    args: [],
    envs: [],
    mounts: [],
    logPath: `${name}/0.log`,
    labels: { "io.kubernetes.container.name": name },
    annotations: { "io.kubernetes.container.restartCount": "0" },
    ...over,
  };
}

/** Pulls the test images, runs a sandbox, creates and starts `containers` in order, each run to its exit when `wait`. */
async function runPod(rt: RuncRuntime, sb: PodSandboxConfig, containers: ContainerConfig[], wait = true): Promise<{ sandbox: string; ids: string[] }> {
  for (const image of ["busybox:test", "busybox:app", "busybox:usr1"]) value(await rt.pullImage(image), `pull ${image}`);
  const sandbox = value(await rt.runPodSandbox(sb), "runPodSandbox");
  const ids: string[] = [];
  for (const c of containers) {
    const id = value(await rt.createContainer(sandbox, c, sb), `create ${c.metadata.name}`);
    value(await rt.startContainer(id), `start ${c.metadata.name}`);
    if (wait) await eventually(`${c.metadata.name} to exit`, async () => value(await rt.containerStatus(id), "status").state === "exited");
    ids.push(id);
  }
  return { sandbox, ids };
}

interface LogLine {
  readonly time: string;
  readonly stream: string;
  readonly tag: string;
  readonly text: string;
}

function readLog(path: string): LogLine[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const m = /^(\S+) (stdout|stderr) (F|P) (.*)$/s.exec(line);
      assert.ok(m, `not a CRI log line: ${JSON.stringify(line)}`);
      return { time: m[1]!, stream: m[2]!, tag: m[3]!, text: m[4]! };
    });
}

const stdoutOf = (path: string) =>
  readLog(path)
    .filter((l) => l.stream === "stdout")
    .map((l) => l.text);

if (!skip) {
  runtimeConformance({ name: "runc", make: async () => make(), image: "busybox:test", missingImage: "busybox:missing" });
}

describe("RuncRuntime with real runc and conmon", { skip }, () => {
  it("writes the container's output to its log in the CRI format and keeps its exit code", async () => {
    const rt = make();
    try {
      const sb = pod();
      const cmd = ["sh", "-c", "echo out-line; echo err-line >&2; printf partial; exit 3"];
      const { ids } = await runPod(rt, sb, [ctr("app", cmd)]);
      const st = value(await rt.containerStatus(ids[0]!), "status");
      assert.equal(st.exitCode, 3);
      assert.equal(st.reason, "Error");
      assert.equal(st.logPath, join(sb.logDirectory!, "app/0.log"));
      const lines = readLog(st.logPath);
      for (const l of lines) assert.ok(!Number.isNaN(Date.parse(l.time)), `timestamp ${l.time}`);
      const entries = lines.map((l) => `${l.stream} ${l.tag} ${l.text}`);
      assert.ok(entries.includes("stdout F out-line"), entries.join("\n"));
      assert.ok(entries.includes("stderr F err-line"), entries.join("\n"));
      assert.ok(entries.includes("stdout P partial"), entries.join("\n"));
    } finally {
      await rt.close();
    }
  });

  it("gives containers the pod's hostname, hosts, resolv.conf, namespaces, shm and the image's user", async () => {
    const rt = make();
    try {
      const sb = pod({ hostname: "web-0", dnsConfig: { servers: ["10.43.0.10"], searches: ["runc-test.svc.cluster.local", "cluster.local"], options: ["ndots:5"] } });
      const first = [
        "id -u; id -g; id -G; pwd; hostname; cat /etc/hostname",
        'echo "FROM_IMAGE=$FROM_IMAGE POD=$POD HOSTNAME=$HOSTNAME"',
        "for n in ipc uts net pid; do readlink /proc/self/ns/$n; done",
        "echo shared > /dev/shm/marker",
        "cat /etc/resolv.conf /etc/hosts",
      ].join("; ");
      const second = "for n in ipc uts net pid; do readlink /proc/self/ns/$n; done; cat /dev/shm/marker";
      const { sandbox, ids } = await runPod(rt, sb, [
        ctr("first", ["sh", "-c", first], { image: "busybox:app", envs: [{ key: "POD", value: "set" }, { key: "FROM_IMAGE", value: "overridden" }] }),
        ctr("second", ["sh", "-c", second]),
      ]);
      const ip = value(await rt.podSandboxStatus(sandbox), "status").ips[0]!;
      const a = stdoutOf(value(await rt.containerStatus(ids[0]!), "a").logPath);
      const b = stdoutOf(value(await rt.containerStatus(ids[1]!), "b").logPath);
      assert.deepEqual(a.slice(0, 7), ["1000", "1000", "1000 10 2000", "/home/app", "web-0", "web-0", "FROM_IMAGE=overridden POD=set HOSTNAME=web-0"]);
      // The pod's IPC, UTS and network namespaces for both (pinned, so the same after the first exited), none of them the host's.
      assert.deepEqual(a.slice(7, 10), b.slice(0, 3));
      for (const [i, ns] of ["ipc", "uts", "net", "pid"].entries()) assert.notEqual(a[7 + i], readlinkSync(`/proc/self/ns/${ns}`), ns);
      assert.equal(b[4], "shared");
      const rest = a.slice(11).join("\n");
      assert.ok(rest.startsWith("search runc-test.svc.cluster.local cluster.local\nnameserver 10.43.0.10\noptions ndots:5\n# Kubernetes-managed hosts file.\n"), rest);
      assert.ok(rest.endsWith(`${ip}\tweb-0`), rest);
      for (const id of ids) value(await rt.removeContainer(id), "remove");
      value(await rt.removePodSandbox(sandbox), "removePodSandbox");
    } finally {
      await rt.close();
    }
  });

  it("runs host-network sandboxes in the node's network and UTS namespaces", async () => {
    const rt = make();
    try {
      const sb = pod({ hostNetwork: true });
      const { sandbox, ids } = await runPod(rt, sb, [ctr("h", ["sh", "-c", "hostname; head -1 /etc/hosts; readlink /proc/self/ns/net"])]);
      assert.deepEqual(value(await rt.podSandboxStatus(sandbox), "status").ips, []);
      const out = stdoutOf(value(await rt.containerStatus(ids[0]!), "status").logPath);
      assert.deepEqual(out, [osHostname(), "# Kubernetes-managed hosts file (host network).", readlinkSync("/proc/self/ns/net")]);
      value(await rt.removePodSandbox(sandbox), "removePodSandbox");
    } finally {
      await rt.close();
    }
  });

  it("puts the container in <cgroupParent>/pod<uid>/<id> with its resources", async () => {
    const rt = make();
    try {
      const sb = pod();
      const resources = { memoryLimitInBytes: 32 * 1024 * 1024, cpuShares: 256, cpuQuota: 50_000, cpuPeriod: 100_000 };
      const { sandbox, ids } = await runPod(rt, sb, [ctr("limited", ["sleep", "3600"], { resources })], false);
      const id = ids[0]!;
      const path = `${cgroupParent}/pod${sb.metadata.uid}/${id}`;
      const mounts = cgroupMountPoints();
      const v2 = existsSync("/sys/fs/cgroup/cgroup.controllers");
      const file = (controller: string, name: string) => (v2 ? join("/sys/fs/cgroup", path, name) : join(mounts.find((m) => m.endsWith(`/${controller}`))!, path, name));
      assert.equal(readFileSync(file("memory", v2 ? "memory.max" : "memory.limit_in_bytes"), "utf8").trim(), String(32 * 1024 * 1024));
      if (v2) assert.equal(readFileSync(file("cpu", "cpu.max"), "utf8").trim(), "50000 100000");
      else {
        assert.equal(readFileSync(file("cpu", "cpu.shares"), "utf8").trim(), "256");
        assert.equal(readFileSync(file("cpu", "cpu.cfs_quota_us"), "utf8").trim(), "50000");
      }
      const pid = value(await rt.streamTarget(id), "target").pid;
      assert.ok(readFileSync(`/proc/${pid}/cgroup`, "utf8").includes(path));
      value(await rt.stopContainer(id, 0), "stop");
      value(await rt.removePodSandbox(sandbox), "removePodSandbox");
    } finally {
      await rt.close();
    }
  });

  it("keeps a pod's cgroup while the pod's next sandbox (attempt 1) uses it", async () => {
    const rt = make();
    try {
      const first = pod();
      const second: PodSandboxConfig = { ...first, metadata: { ...first.metadata, attempt: 1 } };
      const a = await runPod(rt, first, [ctr("c", ["sleep", "3600"])], false);
      const b = await runPod(rt, second, [ctr("c", ["sleep", "3600"])], false);
      value(await rt.removePodSandbox(a.sandbox), "remove the first sandbox");
      assert.equal(value(await rt.containerStatus(b.ids[0]!), "status").state, "running");
      const podCgroup = `${cgroupParent}/pod${first.metadata.uid}`;
      assert.ok(cgroupMountPoints().some((m) => existsSync(join(m, podCgroup, b.ids[0]!))));
      value(await rt.removePodSandbox(b.sandbox), "remove the second sandbox");
      assert.deepEqual(cgroupMountPoints().filter((m) => existsSync(join(m, podCgroup))), []);
    } finally {
      await rt.close();
    }
  });

  it("creates containers with a terminal and with stdin held open", async () => {
    const rt = make();
    try {
      const { sandbox, ids } = await runPod(rt, pod(), [
        ctr("tty", ["sh", "-c", "tty; echo TERM=$TERM"], { tty: true }),
        ctr("stdin", ["sh", "-c", "read line; echo got-$line"], { stdin: true, stdinOnce: true }),
      ], false);
      await eventually("tty to exit", async () => value(await rt.containerStatus(ids[0]!), "status").state === "exited");
      const out = stdoutOf(value(await rt.containerStatus(ids[0]!), "status").logPath).map((l) => l.replace(/\r$/, ""));
      assert.match(out[0] ?? "", /^\/dev\/pts\/\d+$/);
      assert.equal(out[1], "TERM=xterm");
      // Its stdin is conmon's pipe, open until an attach closes it: the read waits.
      assert.equal(value(await rt.containerStatus(ids[1]!), "status").state, "running");
      value(await rt.stopContainer(ids[1]!, 0), "stop");
      value(await rt.removePodSandbox(sandbox), "removePodSandbox");
    } finally {
      await rt.close();
    }
  });

  it("reports OOMKilled when the kernel kills the container for memory", async () => {
    const rt = make();
    try {
      const { sandbox, ids } = await runPod(rt, pod(), [ctr("hog", ["sh", "-c", "tail /dev/zero"], { resources: { memoryLimitInBytes: 16 * 1024 * 1024 } })]);
      const st = value(await rt.containerStatus(ids[0]!), "status");
      assert.deepEqual([st.exitCode, st.reason], [137, "OOMKilled"]);
      value(await rt.removePodSandbox(sandbox), "removePodSandbox");
    } finally {
      await rt.close();
    }
  });

  it("stops with the stop signal, kills after the grace period, and stops idempotently", async () => {
    const rt = make();
    const events: ContainerEvent[] = [];
    const unsubscribe = rt.subscribe((e) => events.push(e));
    try {
      const sb = pod();
      const { sandbox, ids } = await runPod(
        rt,
        sb,
        [
          // Exits on SIGTERM by itself.
          ctr("polite", ["sh", "-c", 'trap "exit 0" TERM; while true; do sleep 0.05; done']),
          // PID 1 without a handler: the kernel ignores SIGTERM, only SIGKILL ends it.
          ctr("stubborn", ["sleep", "3600"]),
          // The image's StopSignal (SIGUSR1) is what arrives first.
          ctr("usr1", ["sh", "-c", 'trap "exit 5" USR1; trap "" TERM; while true; do sleep 0.05; done'], { image: "busybox:usr1" }),
        ],
        false,
      );
      const [polite, stubborn, usr1] = ids as [string, string, string];
      for (const id of ids) assert.equal(value(await rt.containerStatus(id), "status").state, "running");
      // The traps must be installed before the signals are sent.
      await new Promise((r) => setTimeout(r, 300));
      value(await rt.stopContainer(polite, 30), "stop polite");
      value(await rt.stopContainer(stubborn, 1), "stop stubborn");
      value(await rt.stopContainer(usr1, 30), "stop usr1");
      const codes = await Promise.all(ids.map(async (id) => value(await rt.containerStatus(id), "status")));
      assert.deepEqual(codes.map((s) => [s.state, s.exitCode, s.reason]), [["exited", 0, "Completed"], ["exited", 137, "Error"], ["exited", 5, "Error"]]);
      value(await rt.stopContainer(stubborn, 1), "stop again");
      for (const id of ids) {
        assert.deepEqual(events.filter((e) => e.containerId === id).map((e) => e.type), ["created", "started", "stopped"]);
      }
      // A created container that never started stops too.
      const never = value(await rt.createContainer(sandbox, ctr("never", ["sleep", "3600"]), sb), "create never");
      value(await rt.stopContainer(never, 10), "stop never");
      assert.equal(value(await rt.containerStatus(never), "status").state, "exited");
      value(await rt.removePodSandbox(sandbox), "removePodSandbox");
      assert.equal(value(await rt.listContainers({ podSandboxId: sandbox }), "list").length, 0);
    } finally {
      unsubscribe();
      await rt.close();
    }
  });

  it("runs execSync in a running container and refuses exited ones", async () => {
    const rt = make();
    try {
      const { sandbox, ids } = await runPod(rt, pod(), [ctr("srv", ["sleep", "3600"]), ctr("done", ["true"])], false);
      await eventually("done to exit", async () => value(await rt.containerStatus(ids[1]!), "status").state === "exited");
      const r = value(await rt.execSync(ids[0]!, ["sh", "-c", "echo hi; echo err >&2; exit 2"], 10), "execSync");
      assert.deepEqual([r.exitCode, r.stdout.toString(), r.stderr.toString(), r.timedOut], [2, "hi\n", "err\n", false]);
      const gone = await rt.execSync(ids[1]!, ["true"], 10);
      assert.equal(gone.ok ? "ok" : gone.error.code, "FailedPrecondition");
      value(await rt.stopContainer(ids[0]!, 0), "stop");
      value(await rt.removePodSandbox(sandbox), "removePodSandbox");
    } finally {
      await rt.close();
    }
  });

  it("wires exec, attach, port-forward and log reopening to the container's conmon and sandbox", async () => {
    const rt = make();
    try {
      const sb = pod();
      const { sandbox, ids } = await runPod(
        rt,
        sb,
        [
          ctr("ticker", ["sh", "-c", "while true; do echo tick; sleep 0.1; done"]),
          ctr("server", ["sh", "-c", "while true; do echo hello | nc -l -p 8080; done"]),
        ],
        false,
      );
      const [ticker, server] = ids as [string, string];
      const collect = (s: NodeJS.ReadableStream | undefined) => {
        const buf = { text: "" };
        s?.on("data", (c: Buffer) => {
          buf.text += c.toString();
        });
        return buf;
      };

      // stdin in, stdout out: the process (cat) ends only when our stdin does, after the listener is on.
      const ex = value(await rt.exec(ticker, ["cat"], { stdin: true, stdout: true, stderr: false, tty: false }), "exec");
      const exOut = collect(ex.stdout);
      ex.stdin?.end("from-exec\n");
      assert.equal(value(await ex.exit, "exec exit"), 0);
      await eventually("exec output", () => exOut.text === "from-exec\n");

      const at = value(await rt.attach(ticker, { stdin: false, stdout: true, stderr: false, tty: false }), "attach");
      const atOut = collect(at.stdout);
      await eventually("attached output", () => atOut.text.includes("tick\n"));
      at.close();

      const conn = value(await rt.portForward(sandbox, 8080), "portForward");
      const pfOut = collect(conn);
      await eventually("forwarded bytes", () => pfOut.text === "hello\n");
      (conn as NodeJS.ReadWriteStream & { destroy(): void }).destroy();

      // After a rotation (rename), reopening makes conmon write to a new file at the log path.
      const logPath = value(await rt.containerStatus(ticker), "status").logPath;
      renameSync(logPath, `${logPath}.1`);
      value(await rt.reopenContainerLog(ticker), "reopenContainerLog");
      await eventually("the reopened log", () => existsSync(logPath) && readFileSync(logPath, "utf8").includes("stdout F tick"));

      for (const id of [ticker, server]) value(await rt.stopContainer(id, 0), "stop");
      const gone = await rt.exec(ticker, ["true"], { stdin: false, stdout: true, stderr: false, tty: false });
      assert.equal(gone.ok ? "ok" : gone.error.code, "FailedPrecondition");
      value(await rt.removePodSandbox(sandbox), "removePodSandbox");
      const noSandbox = await rt.portForward(sandbox, 8080);
      assert.equal(noSandbox.ok ? "ok" : noSandbox.error.code, "NotFound");
    } finally {
      await rt.close();
    }
  });

  it("fails a create whose command does not exist and leaves nothing of it behind", async () => {
    const rt = make();
    try {
      const sb = pod();
      const { sandbox } = await runPod(rt, sb, []);
      const r = await rt.createContainer(sandbox, ctr("bad", ["/no/such/binary"]), sb);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.error.message, /no such file or directory|executable file not found/);
      assert.deepEqual(value(await rt.listContainers({}), "list"), []);
      assert.deepEqual(readdirSync(rt.paths.containersDir), []);
      const missing = await rt.createContainer(sandbox, ctr("img", ["true"], { image: "busybox:missing" }), sb);
      assert.equal(missing.ok ? "ok" : missing.error.code, "NotFound");
      value(await rt.removePodSandbox(sandbox), "removePodSandbox");
    } finally {
      await rt.close();
    }
  });

  it("adopts sandboxes and containers after the agent is gone, with exits that happened meanwhile", async () => {
    const rtA = make();
    const sb = pod();
    const { sandbox, ids } = await runPod(
      rtA,
      sb,
      [ctr("server", ["sleep", "3600"]), ctr("waiter", ["sh", "-c", "while [ ! -e /dev/shm/go ]; do sleep 0.05; done; exit 7"])],
      false,
    );
    const [server, waiter] = ids as [string, string];
    const ipBefore = value(await rtA.podSandboxStatus(sandbox), "status").ips;
    // The agent is gone (as after kill -9): nothing of it runs, conmon and the containers do.
    await rtA.close();
    writeFileSync(join(rtA.paths.sandboxShm(sandbox), "go"), "");
    await eventually("conmon to record the waiter's exit", () => existsSync(rtA.paths.exitFile(waiter)));

    const rtB = make(rtA.paths.root);
    const events: ContainerEvent[] = [];
    rtB.subscribe((e) => events.push(e));
    try {
      const sbs = value(await rtB.listPodSandbox({ labelSelector: { "io.kubernetes.pod.uid": sb.metadata.uid } }), "list sandboxes");
      assert.equal(sbs.length, 1);
      assert.deepEqual([sbs[0]!.id, sbs[0]!.state, sbs[0]!.labels, sbs[0]!.annotations], [sandbox, "ready", sb.labels, sb.annotations]);
      assert.deepEqual(value(await rtB.podSandboxStatus(sandbox), "status").ips, ipBefore);
      const s1 = value(await rtB.containerStatus(server), "server");
      assert.deepEqual([s1.state, s1.labels["io.kubernetes.container.name"], s1.annotations["io.kubernetes.container.restartCount"]], ["running", "server", "0"]);
      const s2 = value(await rtB.containerStatus(waiter), "waiter");
      assert.deepEqual([s2.state, s2.exitCode, s2.reason], ["exited", 7, "Error"]);
      assert.ok(s2.finishedAt >= s2.startedAt && s2.startedAt > 0);
      // The adopted container is still watched: its exit arrives as an event.
      value(await rtB.stopContainer(server, 0), "stop server");
      assert.deepEqual(events.filter((e) => e.containerId === server).map((e) => e.type), ["stopped"]);
      assert.equal(value(await rtB.containerStatus(server), "server").exitCode, 137);
    } finally {
      value(await rtB.removePodSandbox(sandbox), "removePodSandbox");
      await rtB.close();
    }
  });

  it("removes everything it made: mounts, cgroups, network namespace, processes, runc state", async () => {
    const rt = make();
    try {
      const sb = pod();
      const { sandbox, ids } = await runPod(rt, sb, [ctr("a", ["sleep", "3600"]), ctr("b", ["sh", "-c", "exit 0"])], false);
      const netnsName = network.nameOf(sandbox);
      assert.ok(existsSync(`/run/netns/${netnsName}`));
      assert.ok(mountPointsUnder(rt.paths.root).length > 0);
      value(await rt.removePodSandbox(sandbox), "removePodSandbox");
      assert.deepEqual(mountPointsUnder(rt.paths.root), []);
      assert.ok(!existsSync(`/run/netns/${netnsName}`));
      const podCgroup = `${cgroupParent}/pod${sb.metadata.uid}`;
      assert.deepEqual(cgroupMountPoints().filter((m) => existsSync(join(m, podCgroup))), []);
      const runcList = await runCommand(DEFAULT_RUNC_PATH, ["--root", rt.paths.runcRoot, "list", "-q"]);
      assert.equal(runcList.stdout.trim(), "");
      assert.deepEqual(readdirSync(rt.paths.containersDir), []);
      assert.deepEqual(readdirSync(rt.paths.sandboxesDir), []);
      for (const id of ids) assert.ok(!existsSync(rt.paths.exitFile(id)));
      const left = await findLeftovers(rt.paths.root, podCgroup, netnsName);
      assert.deepEqual(left, { mounts: [], cgroups: [], netns: [], processes: [] });
    } finally {
      await rt.close();
    }
  });

  it("measures pod start latency (runPodSandbox + createContainer + startContainer)", async (t) => {
    const rt = make();
    try {
      const times: number[] = [];
      const sandboxes: string[] = [];
      value(await rt.pullImage("busybox:test"), "pull");
      for (let i = 0; i < 8; i++) {
        const sb = pod();
        const t0 = performance.now();
        const sandbox = value(await rt.runPodSandbox(sb), "runPodSandbox");
        const id = value(await rt.createContainer(sandbox, ctr("c", ["sleep", "3600"]), sb), "create");
        value(await rt.startContainer(id), "start");
        times.push(performance.now() - t0);
        sandboxes.push(sandbox);
      }
      const sorted = [...times].sort((a, b) => a - b);
      t.diagnostic(`pod start ms: p50=${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} min=${sorted[0]!.toFixed(0)} max=${sorted.at(-1)!.toFixed(0)}`);
      for (const s of sandboxes) value(await rt.removePodSandbox(s), "removePodSandbox");
    } finally {
      await rt.close();
    }
  });

  it("leaves the host clean once every runtime's pods are removed", async () => {
    // Every root directory the tests used, the conformance suite's included, adopted anew and emptied through the API.
    for (const root of roots) {
      const rt = make(root);
      for (const sb of value(await rt.listPodSandbox(), "list")) value(await rt.removePodSandbox(sb.id), `remove ${sb.id}`);
      for (const c of value(await rt.listContainers(), "list")) {
        value(await rt.stopContainer(c.id, 0), "stop");
        value(await rt.removeContainer(c.id), "remove");
      }
      await rt.close();
    }
    assert.deepEqual(await findLeftovers(tmp, cgroupParent, netnsPrefix), { mounts: [], cgroups: [], netns: [], processes: [] });
  });
});

after(async () => {
  if (skip) return;
  await forceCleanup(tmp, cgroupParent, netnsPrefix);
});
