import assert from "node:assert/strict";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { after, before, describe, test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { silentLogger } from "../../machinery/log.js";
import { createCertificateAuthority, issueCertificate, type KeyPairPem } from "../../pki/certs.js";
import { SimRuntime } from "../../runtime/sim/sim-runtime.js";
import type { PodSandboxConfig } from "../../runtime/types.js";
import { CONTAINER_NAME_LABEL, POD_NAME_LABEL, POD_NAMESPACE_LABEL, POD_UID_LABEL } from "../runtime-labels.js";
import type { KubeletAuthorizer, KubeletRequestAttributes, TokenAuthenticator } from "./auth.js";
import { KubeletServer } from "./kubelet-server.js";
import type { ContainerTarget, SandboxTarget } from "./routes.js";

interface Reply {
  status: number;
  body: string;
  headers: IncomingMessage["headers"];
}

describe("KubeletServer", () => {
  let dir: string;
  let clientCa: KeyPairPem;
  let alice: KeyPairPem;
  let bob: KeyPairPem;
  let stranger: KeyPairPem;
  let runtime: SimRuntime;
  let server: KubeletServer;
  let port: number;
  let pod: Pod;
  let containerId: string;
  let sandboxId: string;
  let logFile: string;
  const decisions: KubeletRequestAttributes[] = [];
  const streamed: { kind: string; target: ContainerTarget | SandboxTarget; protocol: string | undefined }[] = [];

  /** Allows alice (any way she authenticates); bob may only read stats. */
  const authorizer: KubeletAuthorizer = {
    async authorize(a) {
      decisions.push(a);
      if (a.user.username === "alice") return { decision: "allow" };
      if (a.user.username === "bob" && a.subresource === "stats") return { decision: "allow" };
      if (a.user.username === "broken") return { decision: "error", error: "webhook unreachable" };
      return { decision: "no-opinion" };
    },
  };
  const tokens: TokenAuthenticator = {
    async authenticateToken(t) {
      if (t === "alice-token") return { ok: true, user: { username: "alice", groups: ["devs"] } };
      if (t === "broken-token") return { ok: true, user: { username: "broken", groups: [] } };
      if (t === "error-token") return { ok: false, error: "TokenReview failed" };
      return { ok: true };
    },
  };

  /** A fake protocol handler: switches to an echo protocol, as a real one would switch to SPDY. */
  const echo =
    (kind: string) =>
    (req: IncomingMessage, socket: Duplex, head: Buffer, target: ContainerTarget | SandboxTarget) => {
      streamed.push({ kind, target, protocol: req.headers["x-stream-protocol-version"] as string | undefined });
      socket.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n");
      if (head.length > 0) socket.write(head);
      socket.pipe(socket);
    };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "skiff-kubelet-server-"));
    clientCa = await createCertificateAuthority({ commonName: "test-client-ca" });
    alice = await issueCertificate({ ca: clientCa, commonName: "alice", organizations: ["devs"], usages: ["client"], validDays: 1 });
    bob = await issueCertificate({ ca: clientCa, commonName: "bob", usages: ["client"], validDays: 1 });
    const otherCa = await createCertificateAuthority({ commonName: "other-ca" });
    stranger = await issueCertificate({ ca: otherCa, commonName: "alice", organizations: ["system:masters"], usages: ["client"], validDays: 1 });

    runtime = new SimRuntime({ podCidr: "10.42.0.0/24", preloadedImages: ["busybox"] });
    const meta = { name: "web", namespace: "default", uid: "uid-web", attempt: 0 };
    const labels = { [POD_NAME_LABEL]: "web", [POD_NAMESPACE_LABEL]: "default", [POD_UID_LABEL]: "uid-web" };
    const sb: PodSandboxConfig = { metadata: meta, logDirectory: join(dir, "pods", "default_web_uid-web"), labels, annotations: {} };
    const s = await runtime.runPodSandbox(sb);
    assert.ok(s.ok);
    sandboxId = s.value;
    const c = await runtime.createContainer(
      sandboxId,
      { metadata: { name: "app", attempt: 0 }, image: "busybox", command: [], args: [], envs: [], mounts: [], logPath: "app/0.log", labels: { ...labels, [CONTAINER_NAME_LABEL]: "app" }, annotations: {} },
      sb,
    );
    assert.ok(c.ok);
    containerId = c.value;
    assert.ok((await runtime.startContainer(containerId)).ok);
    mkdirSync(join(dir, "pods", "default_web_uid-web", "app"), { recursive: true });
    logFile = join(dir, "pods", "default_web_uid-web", "app", "0.log");
    writeFileSync(
      logFile,
      ["2024-01-01T00:00:01.000000001Z stdout F one", "2024-01-01T00:00:02.000000002Z stderr F two", "2024-01-01T00:00:03.000000003Z stdout F three", ""].join("\n"),
    );
    pod = {
      metadata: { name: "web", namespace: "default", uid: "uid-web" },
      spec: { nodeName: "node-a", containers: [{ name: "app", image: "busybox" }, { name: "idle", image: "busybox" }] },
      status: {
        containerStatuses: [
          { name: "app", image: "busybox", imageID: "", ready: true, restartCount: 0, containerID: `sim://${containerId}`, state: { running: {} } },
          { name: "idle", image: "busybox", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason: "ContainerCreating" } } },
        ],
      },
    };
    server = new KubeletServer({
      nodeName: "node-a",
      port: 0,
      bindAddress: "127.0.0.1",
      addresses: ["127.0.0.1"],
      clientCaPem: clientCa.certPem,
      tokenAuthenticator: tokens,
      authorizer,
      pods: { podByName: (ns, name) => (ns === "default" && name === "web" ? pod : undefined), pods: () => [pod] },
      runtime,
      streaming: { exec: echo("exec"), attach: echo("attach"), portForward: echo("portForward") },
      healthChecks: { syncloop: () => {} },
      podLogsDir: join(dir, "pods"),
      logPollIntervalMs: 20,
      logger: silentLogger,
    });
    port = await server.start();
  });

  after(async () => {
    await server?.stop();
    await runtime?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function get(path: string, opts: { cert?: KeyPairPem; token?: string; method?: string } = {}): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port,
          path,
          method: opts.method ?? "GET",
          rejectUnauthorized: false,
          agent: false,
          ...(opts.cert ? { cert: opts.cert.certPem, key: opts.cert.keyPem } : {}),
          headers: opts.token ? { Authorization: `Bearer ${opts.token}` } : {},
        },
        (res) => {
          let body = "";
          res.on("data", (d) => (body += d));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        },
      );
      req.on("error", reject);
      req.end();
    });
  }

  test("a client certificate from the client CA authenticates", async () => {
    const r = await get("/healthz", { cert: alice });
    assert.deepEqual([r.status, r.body], [200, "ok"]);
    const last = decisions.at(-1)!;
    assert.deepEqual(
      { user: last.user, verb: last.verb, resource: last.resource, subresource: last.subresource, name: last.name },
      { user: { username: "alice", groups: ["devs", "system:authenticated"] }, verb: "get", resource: "nodes", subresource: "proxy", name: "node-a" },
    );
  });

  test("no credentials, a certificate from another CA, or an unknown token: 401", async () => {
    for (const opts of [{}, { cert: stranger }, { token: "nobody" }, { token: "error-token" }]) {
      const r = await get("/pods", opts);
      assert.deepEqual([r.status, r.body], [401, "Unauthorized"], JSON.stringify(Object.keys(opts)));
    }
  });

  test("a bearer token authenticates through the token authenticator", async () => {
    const r = await get("/healthz/syncloop", { token: "alice-token" });
    assert.deepEqual([r.status, r.body], [200, "ok"]);
  });

  test("forbidden requests get upstream's 403 text, with the path's subresource", async () => {
    let r = await get("/pods", { cert: bob });
    assert.deepEqual([r.status, r.body], [403, "Forbidden (user=bob, verb=get, resource=nodes, subresource=proxy)"]);
    r = await get("/containerLogs/default/web/app", { cert: bob, method: "POST" });
    assert.deepEqual([r.status, r.body], [403, "Forbidden (user=bob, verb=create, resource=nodes, subresource=proxy)"]);
    r = await get("/metrics/cadvisor", { cert: bob });
    assert.equal(r.body, "Forbidden (user=bob, verb=get, resource=nodes, subresource=metrics)");
    r = await get("/logs/syslog", { cert: bob });
    assert.equal(r.body, "Forbidden (user=bob, verb=get, resource=nodes, subresource=log)");
    // Allowed (stats) but not served: authorization happens before routing.
    r = await get("/stats/summary", { cert: bob });
    assert.deepEqual([r.status, r.body], [404, "404 page not found\n"]);
  });

  test("an authorizer failure is a 500 with upstream's text", async () => {
    const r = await get("/pods", { token: "broken-token" });
    assert.deepEqual([r.status, r.body], [500, "Authorization error (user=broken, verb=get, resource=nodes, subresource=proxy)"]);
  });

  test("/pods lists this node's pods", async () => {
    const r = await get("/pods", { cert: alice });
    assert.equal(r.status, 200);
    assert.equal(r.headers["content-type"], "application/json");
    const list = JSON.parse(r.body) as { kind: string; apiVersion: string; items: Pod[] };
    assert.deepEqual([list.kind, list.apiVersion, list.items.map((p) => p.metadata?.name)], ["PodList", "v1", ["web"]]);
  });

  test("/healthz lists checks when verbose", async () => {
    const r = await get("/healthz?verbose", { cert: alice });
    assert.equal(r.body, "[+]ping ok\n[+]log ok\n[+]syncloop ok\nhealthz check passed\n");
  });

  describe("/containerLogs", () => {
    test("the whole log", async () => {
      const r = await get("/containerLogs/default/web/app", { cert: alice });
      assert.deepEqual([r.status, r.body], [200, "one\ntwo\nthree\n"]);
      assert.equal(r.headers["content-type"], "text/plain; charset=utf-8");
    });

    test("tailLines, the legacy tail, timestamps, limitBytes, sinceTime", async () => {
      assert.equal((await get("/containerLogs/default/web/app?tailLines=1", { cert: alice })).body, "three\n");
      assert.equal((await get("/containerLogs/default/web/app?tail=2", { cert: alice })).body, "two\nthree\n");
      assert.equal((await get("/containerLogs/default/web/app?tail=all", { cert: alice })).body, "one\ntwo\nthree\n");
      assert.equal((await get("/containerLogs/default/web/app?timestamps=true&tailLines=1", { cert: alice })).body, "2024-01-01T00:00:03.000000003Z three\n");
      assert.equal((await get("/containerLogs/default/web/app?limitBytes=6", { cert: alice })).body, "one\ntw");
      assert.equal((await get("/containerLogs/default/web/app?sinceTime=2024-01-01T00:00:02Z", { cert: alice })).body, "two\nthree\n");
      // Every line is older than an hour ago.
      assert.equal((await get("/containerLogs/default/web/app?sinceSeconds=3600", { cert: alice })).body, "");
      assert.equal((await get("/containerLogs/default/web/app?stream=Stderr", { cert: alice })).body, "two\n");
    });

    test("bad options: upstream's 400 and 422 bodies", async () => {
      let r = await get("/containerLogs/default/web/app?tailLines=x", { cert: alice });
      assert.deepEqual([r.status, r.body], [400, '{"message": "Unable to decode query."}']);
      r = await get("/containerLogs/default/web/app?tailLines=-1", { cert: alice });
      assert.deepEqual([r.status, r.body], [422, '{"message": "Invalid request."}']);
    });

    test("unknown pod, unknown container, and a container still waiting", async () => {
      let r = await get("/containerLogs/default/nope/app", { cert: alice });
      assert.deepEqual([r.status, r.body], [404, 'pod "nope" does not exist']);
      r = await get("/containerLogs/default/web/nope", { cert: alice });
      assert.deepEqual([r.status, r.body], [404, 'container "nope" not found in pod "web"']);
      r = await get("/containerLogs/default/web/idle", { cert: alice });
      assert.deepEqual([r.status, r.body], [400, 'container "idle" in pod "web" is waiting to start: ContainerCreating']);
      r = await get("/containerLogs/default/web/app?previous=true", { cert: alice });
      assert.deepEqual([r.status, r.body], [400, 'previous terminated container "app" in pod "web" not found']);
    });

    test("follow streams new lines until the container exits", async () => {
      const body = await new Promise<string>((resolve, reject) => {
        const req = request(
          { host: "127.0.0.1", port, path: "/containerLogs/default/web/app?follow=true&tailLines=1", rejectUnauthorized: false, agent: false, cert: alice.certPem, key: alice.keyPem },
          (res) => {
            let text = "";
            let appended = false;
            res.on("data", (d) => {
              text += d;
              if (!appended && text.includes("three\n")) {
                appended = true;
                appendFileSync(logFile, "2024-01-01T00:00:04Z stdout F four\n");
              } else if (text.includes("four\n")) {
                // The container ends: the stream drains and closes.
                void runtime.stopContainer(containerId, 0);
              }
            });
            res.on("end", () => resolve(text));
          },
        );
        req.on("error", reject);
        req.end();
      });
      assert.equal(body, "three\nfour\n");
    });
  });

  describe("streaming routes", () => {
    function upgrade(path: string, cert: KeyPairPem, headers: Record<string, string> = {}): Promise<{ status: number; body: string; echoed?: string }> {
      return new Promise((resolve, reject) => {
        const req = request({
          host: "127.0.0.1",
          port,
          path,
          method: "POST",
          rejectUnauthorized: false,
          agent: false,
          cert: cert.certPem,
          key: cert.keyPem,
          headers: { "Content-Length": "0", Connection: "Upgrade", Upgrade: "echo", "X-Stream-Protocol-Version": "v4.channel.k8s.io", ...headers },
        });
        req.on("upgrade", (res, socket) => {
          socket.once("data", (d) => {
            socket.destroy();
            resolve({ status: res.statusCode ?? 0, body: "", echoed: d.toString() });
          });
          socket.write("ping");
        });
        req.on("response", (res) => {
          let body = "";
          res.on("data", (d) => (body += d));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("error", reject);
        req.end();
      });
    }

    test("exec reaches the handler with the running container and the protocol headers", async () => {
      // The container from the log test may have been stopped; start a fresh running one.
      const list = await runtime.listContainers({ state: "running" });
      assert.ok(list.ok);
      let running = list.value[0]?.id;
      if (!running) {
        const sb = (await runtime.podSandboxStatus(sandboxId)) as { ok: true; value: { labels: Record<string, string> } };
        const cfg: PodSandboxConfig = { metadata: { name: "web", namespace: "default", uid: "uid-web", attempt: 0 }, labels: sb.value.labels, annotations: {} };
        const c = await runtime.createContainer(
          sandboxId,
          { metadata: { name: "app", attempt: 1 }, image: "busybox", command: [], args: [], envs: [], mounts: [], labels: { ...sb.value.labels, [CONTAINER_NAME_LABEL]: "app" }, annotations: {} },
          cfg,
        );
        assert.ok(c.ok);
        assert.ok((await runtime.startContainer(c.value)).ok);
        running = c.value;
      }
      const r = await upgrade("/exec/default/web/app?command=sh&stdout=1", alice);
      assert.deepEqual([r.status, r.echoed], [101, "ping"]);
      const s = streamed.at(-1)!;
      assert.equal(s.kind, "exec");
      assert.equal(s.protocol, "v4.channel.k8s.io");
      assert.deepEqual(s.target, { podNamespace: "default", podName: "web", podUid: "uid-web", containerName: "app", containerId: running });
    });

    test("port-forward reaches the handler with the pod's sandbox", async () => {
      const r = await upgrade("/portForward/default/web", alice);
      assert.equal(r.status, 101);
      assert.deepEqual(streamed.at(-1)!.target, { podNamespace: "default", podName: "web", podUid: "uid-web", podSandboxId: sandboxId });
    });

    test("errors before the protocol: upstream's codes and texts", async () => {
      let r = await upgrade("/exec/default/nope/app?command=sh", alice);
      assert.deepEqual([r.status, r.body], [404, "pod does not exist"]);
      r = await upgrade("/attach/default/web/idle", alice);
      assert.deepEqual([r.status, r.body], [500, 'container not found ("idle")']);
      r = await upgrade("/portForward/default/web/other-uid", alice);
      assert.deepEqual([r.status, r.body], [404, "pod not found"]);
      r = await upgrade("/exec/default/web/app?command=sh", bob);
      assert.deepEqual([r.status, r.body], [403, "Forbidden (user=bob, verb=create, resource=nodes, subresource=proxy)"]);
      const plain = await get("/exec/default/web/app?command=sh", { cert: alice, method: "POST" });
      assert.deepEqual([plain.status, plain.body], [500, "Upgrade request required\n"]);
    });
  });
});
