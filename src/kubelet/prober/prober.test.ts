import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { Container, Pod, PodStatus } from "kubernetes-types/core/v1.js";
import { silentLogger } from "../../machinery/log.js";
import { type ExecSyncResult, fail, ok, type RuntimeResult } from "../../runtime/types.js";
import type { KubeletEvents } from "../events.js";
import { Prober, type ProberRuntime } from "./prober.js";

const pod: Pod = { metadata: { name: "p", namespace: "ns", uid: "u1" }, spec: { containers: [] } };
const status: PodStatus = { phase: "Running", podIP: "127.0.0.1" };

function recorder() {
  const events: { type: string; reason: string; note: string; fieldPath?: string }[] = [];
  const ev: KubeletEvents = { emit: (ref, type, reason, note) => void events.push({ type, reason, note, fieldPath: ref.fieldPath }) };
  return { events, ev };
}

describe("prober (events as upstream)", () => {
  let server: Server;
  let port = 0;
  before(async () => {
    server = createServer((req, res) => {
      if (req.url === "/healthz") res.end("ok");
      else if (req.url === "/moved") res.writeHead(301, { Location: "http://127.0.0.2:9/x" }).end("see other");
      else {
        res.statusCode = 500;
        res.end("boom");
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const noExec: ProberRuntime = { execSync: async () => fail("Unimplemented", "no exec here") };

  it("httpGet failure, warning and success (table)", async () => {
    const { events, ev } = recorder();
    const prober = new Prober({ runtime: noExec, events: ev, logger: silentLogger });
    const cases: { type: "liveness" | "readiness" | "startup"; path: string; want: string; event?: [string, string, string] }[] = [
      { type: "liveness", path: "/broken", want: "failure", event: ["Warning", "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500"] },
      { type: "readiness", path: "/moved", want: "success", event: ["Warning", "ProbeWarning", "Readiness probe warning: Probe terminated redirects, Response body: see other"] },
      { type: "startup", path: "/healthz", want: "success" },
    ];
    for (const c of cases) {
      events.length = 0;
      const probe = { httpGet: { port, path: c.path }, timeoutSeconds: 1 };
      const container: Container = { name: "app", image: "i", livenessProbe: probe, readinessProbe: probe, startupProbe: probe };
      const r = await prober.probe(c.type, pod, status, container, "c1");
      assert.deepEqual(r, { result: c.want, errored: false }, c.path);
      assert.deepEqual(
        events.map((e) => [e.type, e.reason, e.note]),
        c.event ? [c.event] : [],
        c.path,
      );
      if (c.event) assert.equal(events[0]!.fieldPath, "spec.containers{app}");
    }
  });

  it("exec: the command's output is the message; runtime errors are retried and reported as errors", async () => {
    const { events, ev } = recorder();
    const seen: (readonly string[])[] = [];
    const runtime: ProberRuntime = {
      async execSync(_id, cmd): Promise<RuntimeResult<ExecSyncResult>> {
        seen.push(cmd);
        if (cmd[0] === "broken") return fail("Unavailable", "runtime is down");
        return ok({ exitCode: 1, stdout: Buffer.from("not ready yet"), stderr: Buffer.alloc(0), timedOut: false });
      },
    };
    const prober = new Prober({ runtime, events: ev, logger: silentLogger });
    const container: Container = { name: "app", image: "i", env: [{ name: "F", value: "/tmp/ready" }], readinessProbe: { exec: { command: ["cat", "$(F)"] } } };
    assert.deepEqual(await prober.probe("readiness", pod, status, container, "c1"), { result: "failure", errored: false });
    assert.deepEqual(seen, [["cat", "/tmp/ready"]]);
    assert.deepEqual(events.map((e) => e.note), ["Readiness probe failed: not ready yet"]);

    events.length = 0;
    seen.length = 0;
    const broken: Container = { name: "app", image: "i", livenessProbe: { exec: { command: ["broken"] } } };
    assert.deepEqual(await prober.probe("liveness", pod, status, broken, "c1"), { result: "failure", errored: true });
    assert.equal(seen.length, 3, "upstream retries an errored probe up to 3 times");
    assert.deepEqual(events.map((e) => [e.reason, e.note]), [["Unhealthy", "Liveness probe errored and resulted in unknown state: rpc error: code = Unavailable desc = runtime is down"]]);
  });

  it("a simulated runtime answers without running anything", async () => {
    const { events, ev } = recorder();
    let execs = 0;
    const answers: Record<string, boolean | undefined> = { c1: false, c2: undefined };
    const runtime: ProberRuntime = {
      execSync: async () => {
        execs++;
        return fail("Unimplemented", "no");
      },
      simulatedProbe: (id) => answers[id],
    };
    const prober = new Prober({ runtime, events: ev, logger: silentLogger });
    // An address that must never be dialled: the answer comes from the runtime.
    const container: Container = { name: "app", image: "i", readinessProbe: { httpGet: { port: 1, host: "192.0.2.1" } }, livenessProbe: { exec: { command: ["x"] } } };
    assert.deepEqual(await prober.probe("readiness", pod, status, container, "c1"), { result: "failure", errored: false });
    assert.deepEqual(await prober.probe("liveness", pod, status, container, "c2"), { result: "success", errored: false });
    assert.equal(execs, 0);
    assert.deepEqual(events.map((e) => e.note), ["Readiness probe failed: simulated probe failure"]);
  });

  it("no handler: an error naming the pod and container", async () => {
    const { events, ev } = recorder();
    const prober = new Prober({ runtime: noExec, events: ev, logger: silentLogger });
    const container: Container = { name: "app", image: "i", livenessProbe: {} };
    assert.deepEqual(await prober.probe("liveness", pod, status, container, "c1"), { result: "failure", errored: true });
    assert.deepEqual(events.map((e) => e.note), ["Liveness probe errored and resulted in unknown state: missing probe handler for p_ns(u1):app"]);
  });
});
