import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import { FakeTimers } from "../../client/timers.js";
import { silentLogger } from "../../machinery/log.js";
import { type ExecSyncResult, fail, ok, type RuntimeResult } from "../../runtime/types.js";
import type { HookDeps } from "./handler-runner.js";
import { runHandler } from "./handler-runner.js";
import { killContainer, terminationGracePeriod } from "./kill-container.js";
import { runPostStart } from "./post-start.js";
import { runPreStop } from "./pre-stop.js";

function pod(c: Partial<Container>, extra: { grace?: number; deletionGrace?: number } = {}): Pod {
  return {
    metadata: { name: "p", namespace: "ns", uid: "u1", ...(extra.deletionGrace !== undefined ? { deletionGracePeriodSeconds: extra.deletionGrace } : {}) },
    spec: { containers: [{ name: "app", image: "i", ...c }], terminationGracePeriodSeconds: extra.grace ?? 30 },
  };
}

/** Hook dependencies over fake time: exec answers by command, stops are recorded. */
function deps(opts: { podIP?: string } = {}) {
  const timers = new FakeTimers();
  const events: { type: string; reason: string; note: string }[] = [];
  const stops: { id: string; grace: number }[] = [];
  const execs: (readonly string[])[] = [];
  const hanging: (() => void)[] = [];
  const runtime: HookDeps["runtime"] = {
    async execSync(_id, cmd): Promise<RuntimeResult<ExecSyncResult>> {
      execs.push(cmd);
      const res = (exitCode: number, out: string, err = "") => ok({ exitCode, stdout: Buffer.from(out), stderr: Buffer.from(err), timedOut: false });
      if (cmd.join(" ") === "sh -c exit 1") return res(1, "", "boom");
      if (cmd[0] === "hang") {
        // Runs until the container is stopped.
        await new Promise<void>((r) => hanging.push(r));
        return res(137, "");
      }
      if (cmd[0] === "gone") return fail("NotFound", "container not found");
      return res(0, "done");
    },
    async stopContainer(id, grace) {
      stops.push({ id, grace });
      for (const r of hanging.splice(0)) r();
      return ok(undefined);
    },
  };
  const d: HookDeps = {
    runtime,
    events: { emit: (_ref, type, reason, note) => void events.push({ type, reason, note }) },
    timers,
    logger: silentLogger,
    podIP: async () => opts.podIP,
  };
  const flush = async () => {
    for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
  };
  const advance = async (ms: number) => {
    for (let t = 0; t < ms; t += 500) {
      timers.advance(Math.min(500, ms - t));
      await flush();
    }
  };
  return { d, timers, events, stops, execs, flush, advance };
}

describe("lifecycle hooks", () => {
  let server: Server;
  let port = 0;
  let refused = 0;
  const hits: { url: string; ua: string }[] = [];
  before(async () => {
    server = createServer((req, res) => {
      hits.push({ url: req.url ?? "", ua: req.headers["user-agent"] ?? "" });
      // Hooks do not look at the status code (upstream).
      res.statusCode = req.url === "/hook" ? 200 : 500;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
    // A port nothing listens on: bound, then released.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    refused = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("postStart exec: success, then a failure kills the container with upstream's events and message", async () => {
    const h = deps();
    const good = pod({ lifecycle: { postStart: { exec: { command: ["touch", "/ready"] } } } });
    assert.deepEqual(await runPostStart(h.d, good, good.spec!.containers[0]!, "c1"), { ok: true });
    assert.equal(h.events.length, 0);

    const bad = pod({ lifecycle: { postStart: { exec: { command: ["sh", "-c", "exit 1"] } } } });
    const r = await runPostStart(h.d, bad, bad.spec!.containers[0]!, "c2");
    assert.deepEqual(r, {
      ok: false,
      reason: "PostStartHookError",
      message: `Exec lifecycle hook ([sh -c exit 1]) for Container "app" in Pod "p_ns(u1)" failed - error: command 'sh -c exit 1' exited with 1: boom, message: "boom"`,
    });
    assert.deepEqual(
      h.events.map((e) => [e.type, e.reason, e.note]),
      [
        ["Warning", "FailedPostStartHook", "PostStartHook failed"],
        ["Normal", "Killing", "FailedPostStartHook"],
      ],
    );
    assert.deepEqual(h.stops, [{ id: "c2", grace: 30 }]);
  });

  it("httpGet hooks: any answer is success (User-Agent kube-lifecycle); a refused connection fails with Go's text", async () => {
    const h = deps({ podIP: "127.0.0.1" });
    const c: Container = { name: "app", image: "i" };
    hits.length = 0;
    assert.deepEqual(await runHandler(h.d, pod({}), c, "c1", { httpGet: { port, path: "/hook" } }), { ok: true });
    assert.deepEqual(await runHandler(h.d, pod({}), c, "c1", { httpGet: { port, path: "/other" } }), { ok: true }, "a 500 still counts");
    assert.equal(hits.length, 2);
    assert.match(hits[0]!.ua, /^kube-lifecycle\/\d+\.\d+$/);
    const r = await runHandler(h.d, pod({}), c, "c1", { httpGet: { port: refused, path: "/hook" } });
    const error = `Get "http://127.0.0.1:${refused}/hook": dial tcp 127.0.0.1:${refused}: connect: connection refused`;
    assert.deepEqual(r, { ok: false, error, message: `HTTP lifecycle hook (/hook) for Container "app" in Pod "p_ns(u1)" failed - error: ${error}` });
  });

  it("an HTTPS hook answered in plain HTTP is retried over HTTP, with a warning", async () => {
    const h = deps({ podIP: "127.0.0.1" });
    hits.length = 0;
    const r = await runHandler(h.d, pod({}), { name: "app", image: "i" }, "c1", { httpGet: { port, path: "/hook", scheme: "HTTPS" } });
    assert.deepEqual(r, { ok: true });
    assert.equal(hits.length, 1);
    assert.deepEqual(h.events.map((e) => [e.reason, e.note]), [["LifecycleHTTPFallback", `request to HTTPS lifecycle hook 127.0.0.1:${port} got HTTP response, retry with HTTP succeeded`]]);
  });

  it("a simulated runtime's httpGet hooks open no socket; tcpSocket hooks are refused", async () => {
    const h = deps();
    const sim: HookDeps = { ...h.d, runtime: { ...h.d.runtime, simulatedProbe: () => undefined } };
    assert.deepEqual(await runHandler(sim, pod({}), { name: "app", image: "i" }, "c1", { httpGet: { port: 1, host: "192.0.2.1" } }), { ok: true });
    const r = await runHandler(h.d, pod({}), { name: "app", image: "i" }, "c1", { tcpSocket: { port: 80 } });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.message, "Cannot run handler: invalid handler: tcpSocket is not supported as a lifecycle handler");
  });

  it("preStop sleep takes its time out of the grace period", async () => {
    const h = deps();
    const p = pod({ lifecycle: { preStop: { sleep: { seconds: 5 } } } });
    const done = killContainer(h.d, p, "app", p.spec!.containers[0]!, "c1");
    await h.advance(4_500);
    assert.deepEqual(h.stops, [], "still sleeping");
    await h.advance(1_000);
    assert.equal((await done).ok, true);
    assert.deepEqual(h.stops, [{ id: "c1", grace: 25 }]);
    assert.deepEqual(h.events.map((e) => e.note), ["Stopping container app"]);
  });

  it("a preStop hook that outlives the grace period is abandoned; the stop still gets 2 seconds; its failure is reported", async () => {
    const h = deps();
    const p = pod({ lifecycle: { preStop: { exec: { command: ["hang"] } } } }, { deletionGrace: 3 });
    const done = killContainer(h.d, p, "app", p.spec!.containers[0]!, "c1", { message: "Stopping container app" });
    await h.advance(3_000);
    await done;
    assert.deepEqual(h.stops, [{ id: "c1", grace: 2 }]);
    await h.flush();
    // The hook's exec ended with the container (137): upstream reports it, without the message.
    assert.deepEqual(
      h.events.map((e) => [e.reason, e.note]),
      [
        ["Killing", "Stopping container app"],
        ["FailedPreStopHook", "PreStopHook failed"],
      ],
    );
  });

  it("a grace period override is used as is after the preStop hook", async () => {
    const h = deps();
    const p = pod({ lifecycle: { preStop: { exec: { command: ["true"] } } } });
    await killContainer(h.d, p, "app", p.spec!.containers[0]!, "c1", { gracePeriodOverride: 0 });
    assert.deepEqual(h.execs, [["true"]]);
    assert.deepEqual(h.stops, [{ id: "c1", grace: 0 }]);
    assert.equal(await runPreStop(h.d, p, p.spec!.containers[0]!, "c1", 0), 0, "no time left: no hook");
  });

  it("the grace period as upstream's setTerminationGracePeriod (table)", () => {
    const probe = { exec: { command: ["x"] }, terminationGracePeriodSeconds: 7 };
    const c: Container = { name: "app", image: "i", livenessProbe: probe, startupProbe: { ...probe, terminationGracePeriodSeconds: 4 } };
    const cases: [Pod, Parameters<typeof terminationGracePeriod>[2], number][] = [
      [pod({}, { grace: 30 }), undefined, 30],
      [pod({}, { grace: 30, deletionGrace: 10 }), "LivenessProbe", 10],
      [pod({}, { grace: 30 }), "LivenessProbe", 7],
      [pod({}, { grace: 30 }), "StartupProbe", 4],
      [pod({}, { grace: 30 }), "FailedPostStartHook", 30],
      [{ metadata: {}, spec: { containers: [] } }, undefined, 2],
    ];
    for (const [p, reason, want] of cases) assert.equal(terminationGracePeriod(p, c, reason), want, String(reason));
  });
});
