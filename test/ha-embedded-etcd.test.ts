/**
 * `skiff server --cluster-init`: the server runs its own etcd member (real
 * etcd 3.4) with TLS from the etcd CA, pre-vote on, and keeps using it on
 * later starts without the flag; a SIGKILLed server's orphaned member is
 * stopped and started again by the next server on that data dir, with the
 * data intact; a clean stop stops etcd; `skiff snapshot save` works on it.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { embeddedEtcdPaths, readEtcdMemberRecord } from "../src/etcd/embedded-etcd.js";
import { type ServerOnDir, startServerOnDir } from "./support/restart.js";
import { eventually } from "./support/eventually.js";
import { writeFastKubeletConfig } from "./support/sim-agent.js";
import { skiff, skiffBackground, stopProcess, waitForLog } from "./support/skiff.js";
import { freePort } from "./support/test-images.js";

const hasEtcd = spawnSync("etcd", ["--version"], { encoding: "utf8" }).status === 0;
const INIT = ["--cluster-init", "--etcd-client-port", "0", "--etcd-peer-port", "0", "--advertise-address", "127.0.0.1"];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function etcdPid(dataDir: string): number {
  return Number(readFileSync(embeddedEtcdPaths(dataDir).pid, "utf8").trim());
}

function kubectl(s: ServerOnDir, args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync("kubectl", ["--kubeconfig", s.kubeconfig, ...args], { encoding: "utf8", timeout: 60_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** `etcdctl` against the member with the API server's client certificate. */
function etcdctl(dataDir: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const m = readEtcdMemberRecord(dataDir)!;
  const tls = join(dataDir, "tls", "etcd");
  const r = spawnSync(
    "etcdctl",
    [`--endpoints=https://127.0.0.1:${m.clientPort}`, `--cacert=${join(tls, "server-ca.crt")}`, `--cert=${join(tls, "client.crt")}`, `--key=${join(tls, "client.key")}`, ...args],
    { encoding: "utf8", env: { ...process.env, ETCDCTL_API: "3" }, timeout: 30_000 },
  );
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe("embedded etcd (--cluster-init)", { skip: !hasEtcd && "etcd is not installed" }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), "skiff-etcd-init-"));
  const pids: number[] = [];
  let server: ServerOnDir | undefined;
  after(async () => {
    await server?.stop();
    // Only the members this test's servers started, by the PIDs they recorded.
    for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("runs a TLS member, survives a SIGKILLed server, and stops with the server", async () => {
    server = await startServerOnDir(dataDir, INIT);
    const first = etcdPid(dataDir);
    pids.push(first);
    assert.match(server.log(), /msg="etcd member ready"/);
    const cm = kubectl(server, ["create", "configmap", "kept", "--from-literal=k=v"]);
    assert.equal(cm.status, 0, cm.stderr);

    // The member: TLS with client certificates, pre-vote on, one started member named after the node.
    const members = etcdctl(dataDir, ["member", "list", "-w", "json"]);
    assert.equal(members.status, 0, members.stderr);
    const list = (JSON.parse(members.stdout) as { members: { name: string; peerURLs: string[]; isLearner?: boolean }[] }).members;
    assert.equal(list.length, 1);
    assert.equal(list[0]!.name, readEtcdMemberRecord(dataDir)!.name);
    assert.match(list[0]!.peerURLs[0]!, /^https:\/\/127\.0\.0\.1:\d+$/);
    const cmdline = readFileSync(`/proc/${first}/cmdline`, "utf8").split("\0");
    for (const flag of ["--pre-vote=true", "--client-cert-auth", "--peer-client-cert-auth"]) assert.ok(cmdline.includes(flag), flag);
    const noCert = spawnSync("curl", ["-sS", "--cacert", join(dataDir, "tls", "etcd", "server-ca.crt"), `https://127.0.0.1:${readEtcdMemberRecord(dataDir)!.clientPort}/v3/kv/range`, "-d", "{}"], { encoding: "utf8" });
    assert.ok(!(noCert.status === 0 && /"header"/.test(noCert.stdout)), "a client without a certificate is refused");
    // The data is in etcd, under skiff's keys.
    const keys = etcdctl(dataDir, ["get", "--prefix", "--keys-only", "/registry/configmaps/default/kept"]);
    assert.match(keys.stdout, /\/registry\/configmaps\/default\/kept/);

    // A snapshot of the embedded member works through the recorded datastore.
    const snap = skiff(["snapshot", "save", "--data-dir", dataDir, "--name", "embedded"]);
    assert.equal(snap.status, 0, snap.stderr);

    // kill -9: etcd is orphaned; the next start (no --cluster-init needed) stops it and starts its own.
    await stopProcess(server.process, "SIGKILL");
    server = undefined;
    assert.ok(alive(first), "the orphaned member still runs");
    server = await startServerOnDir(dataDir);
    const second = etcdPid(dataDir);
    pids.push(second);
    assert.notEqual(second, first);
    assert.ok(!alive(first), "the orphan was stopped");
    assert.match(server.log(), /stopping the etcd member a previous server left running/);
    const got = kubectl(server, ["get", "configmap", "kept", "-o", "jsonpath={.data.k}"]);
    assert.equal(got.stdout, "v", got.stderr);

    // A clean stop stops etcd too.
    await server.stop();
    server = undefined;
    assert.ok(!alive(second), "etcd stopped with the server");
    assert.ok(!existsSync(embeddedEtcdPaths(dataDir).pid));
  });

  it("--cluster-reset rebuilds the member from a snapshot or from its own data", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-etcd-reset-"));
    try {
      let s: ServerOnDir | undefined = await startServerOnDir(dir, INIT);
      pids.push(etcdPid(dir));
      assert.equal(kubectl(s, ["create", "configmap", "before"]).status, 0);
      const snap = skiff(["snapshot", "save", "--data-dir", dir, "--name", "pre"]);
      assert.equal(snap.status, 0, snap.stderr);
      const file = readdirSync(join(dir, "db", "snapshots")).find((f) => f.startsWith("pre-"))!;
      assert.equal(kubectl(s, ["create", "configmap", "after"]).status, 0);
      await s.stop();
      s = undefined;

      const reset = skiff(["server", "--data-dir", dir, "--cluster-reset", "--cluster-reset-restore-path", file]);
      assert.equal(reset.status, 0, reset.stderr);
      assert.match(reset.stderr, /Managed etcd cluster membership has been reset to this member .*, restored from pre-/);
      s = await startServerOnDir(dir);
      pids.push(etcdPid(dir));
      assert.equal(kubectl(s, ["get", "configmap", "before", "-o", "name"]).stdout.trim(), "configmap/before");
      assert.match(kubectl(s, ["get", "configmap", "after"]).stderr, /NotFound|not found/, "what came after the snapshot is gone");
      await s.stop();

      const local = skiff(["server", "--data-dir", dir, "--cluster-reset"]);
      assert.equal(local.status, 0, local.stderr);
      assert.match(local.stderr, /membership has been reset to this member/);
      s = await startServerOnDir(dir);
      pids.push(etcdPid(dir));
      assert.equal(kubectl(s, ["get", "configmap", "before", "-o", "name"]).stdout.trim(), "configmap/before");
      await s.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses --cluster-init over a SQLite cluster and with --datastore-endpoint", () => {
    const sqliteDir = mkdtempSync(join(tmpdir(), "skiff-etcd-init-"));
    try {
      mkdirSync(join(sqliteDir, "db"));
      writeFileSync(join(sqliteDir, "db", "state.db"), "");
      const r = skiff(["server", "--data-dir", sqliteDir, ...INIT, "--https-port", "0"]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /already holds a cluster in SQLite/);
      const both = skiff(["server", "--data-dir", mkdtempSync(join(sqliteDir, "x-")), ...INIT, "--datastore-endpoint", "etcd://127.0.0.1:1"]);
      assert.equal(both.status, 1);
      assert.match(both.stderr, /cannot be combined with --datastore-endpoint/);
    } finally {
      rmSync(sqliteDir, { recursive: true, force: true });
    }
  });
});

describe("more servers join (--server, --token)", { skip: !hasEtcd && "etcd is not installed" }, () => {
  const dirs = ["a", "b", "c"].map((n) => mkdtempSync(join(tmpdir(), `skiff-etcd-${n}-`)));
  // The agent's dir joins the list later (cleaned up with the rest).
  const [dirA, dirB, dirC] = dirs as [string, string, string];
  const pids: number[] = [];
  const servers = new Set<ServerOnDir>();
  after(async () => {
    for (const s of servers) await s.stop();
    for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** The `kubernetes` Endpoints' addresses as server `s` serves them. */
  function apiEndpoints(s: ServerOnDir): string {
    return kubectl(s, ["get", "endpoints", "kubernetes", "-o", "jsonpath={.subsets[*].addresses[*].ip}"]).stdout.trim();
  }

  async function start(dir: string, args: string[]): Promise<ServerOnDir> {
    // Scheduled snapshots on (a schedule that does not fire during the test): the servers elect who takes them.
    const s = await startServerOnDir(dir, [...args, "--snapshot-schedule", "0 0 1 1 *"], { snapshots: true });
    servers.add(s);
    pids.push(etcdPid(dir));
    return s;
  }

  it("get the cluster's keys, join etcd as learners then voters, serve the same data, and are the kubernetes endpoints while alive", async () => {
    // Three hosts on one machine: each server on its own loopback address, all on one API port (as upstream assumes).
    const port = String(await freePort());
    const on = (ip: string, name: string) => ["--bind-address", ip, "--advertise-address", ip, "--https-port", port, "--etcd-client-port", "0", "--etcd-peer-port", "0", "--node-name", name];
    const a = await start(dirA, ["--cluster-init", ...on("127.0.0.2", "server-a")]);
    const token = readFileSync(join(dirA, "token"), "utf8").trim();
    const first = `https://127.0.0.2:${port}`;

    // A wrong token is refused before anything is written.
    const bad = skiff(["server", "--data-dir", mkdtempSync(join(dirB, "bad-")), "--server", first, "--token", token.replace(/:[^:]+$/, ":wrong"), "--https-port", "0"]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /refused the token/);

    const b = await start(dirB, ["--server", first, "--token", token, ...on("127.0.0.3", "server-b")]);
    assert.match(b.log(), /msg="added as an etcd learner"/);
    assert.match(b.log(), /msg="etcd learner promoted to a voting member"/);
    assert.match(b.log(), /etcd has 2 members/, "an even member count is warned about");
    for (const f of ["tls/server-ca.crt", "tls/client-ca.key", "tls/etcd/peer-ca.crt", "tls/service-account.key", "tls/encryption-config.yaml"]) {
      assert.equal(readFileSync(join(dirB, f), "utf8"), readFileSync(join(dirA, f), "utf8"), `${f} is shared`);
    }
    assert.equal(readFileSync(join(dirB, "token"), "utf8").trim(), token);
    // The third joins through the second.
    const c = await start(dirC, ["--server", `https://127.0.0.3:${port}`, "--token", token, ...on("127.0.0.4", "server-c")]);

    const members = JSON.parse(etcdctl(dirA, ["member", "list", "-w", "json"]).stdout) as { members: { name: string; isLearner?: boolean }[] };
    assert.deepEqual(members.members.map((m) => m.name).sort(), dirs.map((d) => readEtcdMemberRecord(d)!.name).sort());
    assert.ok(members.members.every((m) => !m.isLearner), "every member votes");

    // One server takes the scheduled snapshots: the holder of kube-system/skiff-server-jobs.
    await eventually("a snapshot leader", () => [a, b, c].filter((s) => /msg="this server takes the scheduled snapshots"/.test(s.log())).length === 1, 30_000);
    const holder = kubectl(a, ["get", "lease", "-n", "kube-system", "skiff-server-jobs", "-o", "jsonpath={.spec.holderIdentity}"]);
    assert.notEqual(holder.stdout.trim(), "", holder.stderr);

    // skiff doctor describes the etcd cluster from any server's data dir.
    const doctor = skiff(["doctor", "--kubeconfig", a.kubeconfig, "--data-dir", dirA, "-o", "json"]);
    const etcdFinding = (JSON.parse(doctor.stdout) as { findings: { object: string; severity: string; cause: string }[] }).findings.find((f) => f.object === "etcd cluster");
    assert.equal(etcdFinding?.severity, "info", doctor.stdout + doctor.stderr);
    assert.match(etcdFinding!.cause, /etcd is healthy: 3 voting members, leader .*, data identical on every member at revision \d+/);

    // Written on A, read on C (a Secret: every server holds the same encryption key), and the other way round.
    assert.equal(kubectl(a, ["create", "secret", "generic", "shared", "--from-literal=k=v"]).status, 0);
    const got = kubectl(c, ["get", "secret", "shared", "-o", "jsonpath={.data.k}"]);
    assert.equal(Buffer.from(got.stdout, "base64").toString(), "v", got.stderr);
    assert.equal(kubectl(c, ["create", "configmap", "from-c"]).status, 0);
    assert.equal(kubectl(a, ["get", "configmap", "from-c", "-o", "name"]).stdout.trim(), "configmap/from-c");

    // Every API server is an endpoint of `kubernetes`; a clean stop takes C out at once (two of three members keep quorum).
    const all = "127.0.0.2 127.0.0.3 127.0.0.4";
    await eventually("every server in the kubernetes endpoints", () => (apiEndpoints(a) === all ? true : undefined), 30_000);
    await c.stop();
    servers.delete(c);
    assert.equal(apiEndpoints(a), "127.0.0.2 127.0.0.3", "a cleanly stopped server removes itself");

    // C restarts on its own record, without --server, and is listed again.
    const c2 = await start(dirC, on("127.0.0.4", "server-c"));
    assert.equal(kubectl(c2, ["get", "configmap", "from-c", "-o", "name"]).stdout.trim(), "configmap/from-c");
    await eventually("C listed again", () => (apiEndpoints(a) === all ? true : undefined), 30_000);

    // An agent joins through B; its local balancer learns every server from the kubernetes endpoints.
    const agentDir = mkdtempSync(join(tmpdir(), "skiff-etcd-agent-"));
    dirs.push(agentDir);
    const agent = skiffBackground(["agent", "--server", `https://127.0.0.3:${port}`, "--token", token, "--runtime", "sim", "--simulate-nodes", "1", "--node-name", "sim-ha", "--data-dir", agentDir, "--kubelet-config", writeFastKubeletConfig(agentDir)]);
    let agentLog = "";
    agent.stderr?.on("data", (d: Buffer) => {
      agentLog += d.toString();
    });
    try {
      await waitForLog(agent, /msg="nodes registered"/);
      await eventually("the agent to learn every server", () => /msg="API servers updated".*127\.0\.0\.2.*127\.0\.0\.4/.test(agentLog), 60_000);
      const saved = JSON.parse(readFileSync(join(agentDir, "agent", "server-list.json"), "utf8")) as { servers: string[] };
      assert.ok(saved.servers.includes(`https://127.0.0.2:${port}`), "the list is kept on disk");

      // Killed, B drops out of the endpoints once its lease runs out (15 s TTL, 10 s reconcile), and the agent that
      // joined through it moves to another server: its node keeps renewing its Lease.
      await stopProcess(b.process, "SIGKILL");
      servers.delete(b);
      const killedAt = new Date();
      await eventually("the agent to switch servers", () => /msg="switching API server" .*from=https:\/\/127\.0\.0\.3/.test(agentLog), 60_000);
      await eventually("the node's Lease renewed after the kill", () => {
        const renew = kubectl(a, ["get", "lease", "-n", "kube-node-lease", "sim-ha-0", "-o", "jsonpath={.spec.renewTime}"]).stdout.trim();
        return renew !== "" && new Date(renew) > killedAt ? true : undefined;
      }, 60_000);
      await eventually("a dead server to leave the endpoints", () => (apiEndpoints(a) === "127.0.0.2 127.0.0.4" ? true : undefined), 60_000);
      assert.equal(kubectl(a, ["get", "node", "sim-ha-0", "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}"]).stdout, "True");
    } finally {
      await stopProcess(agent);
    }

    // Two of three etcd members held down (B's, orphaned when B was killed, and C's): A's writes fail at once with
    // 503 saying etcd has no leader; when they come back, quorum returns and writes go through again.
    const held = [etcdPid(dirB), etcdPid(dirC)];
    for (const pid of held) process.kill(pid, "SIGSTOP");
    try {
      const refused = await eventually(
        "writes to fail without quorum",
        () => {
          const r = kubectl(a, ["create", "configmap", `no-quorum-${Date.now()}`, "--request-timeout=20s"]);
          return r.status !== 0 && /etcd has no leader/.test(r.stderr) ? r : undefined;
        },
        60_000,
        1000,
      );
      assert.match(refused.stderr, /lost quorum/);
      // As a Status: 503 ServiceUnavailable.
      assert.match(kubectl(a, ["get", "configmap", "from-c", "--request-timeout=20s"]).stderr, /Error from server \(ServiceUnavailable\): etcd has no leader/);
    } finally {
      for (const pid of held) process.kill(pid, "SIGCONT");
    }
    await eventually("writes to succeed once quorum is back", () => kubectl(a, ["create", "configmap", "quorum-back"]).status === 0, 60_000, 1000);
  });
});
