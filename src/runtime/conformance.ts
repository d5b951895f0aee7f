/**
 * The shared runtime suite (DESIGN.md §4.4): behaviour every
 * {@link ContainerRuntime} must show, written once and run by each
 * implementation's test (`sim` now, `runc` later) with its own factory.
 * It uses only the interface and real time with bounded polling, and an
 * image the factory says can be pulled (for runc: a local busybox image).
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { ContainerConfig, ContainerEvent, ContainerRuntime, PodSandboxConfig, RuntimeResult } from "./types.js";

/** What the suite needs from an implementation. */
export interface ConformanceTarget {
  readonly name: string;
  /** A fresh runtime (cleaned up by the suite with close()). */
  make(): Promise<ContainerRuntime>;
  /** An image that pulls and has `sh` and `sleep` (for runc: a local busybox). */
  readonly image: string;
  /** An image reference that does not exist. */
  readonly missingImage: string;
}

function value<T>(r: RuntimeResult<T>, what: string): T {
  if (!r.ok) assert.fail(`${what}: ${r.error.code}: ${r.error.message}`);
  return r.value;
}

async function eventually(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting for ${what}`);
}

let seq = 0;

function sandbox(uid = `uid-${++seq}`): PodSandboxConfig {
  return {
    metadata: { name: `pod-${seq}`, namespace: "conformance", uid, attempt: 0 },
    hostname: `pod-${seq}`,
    labels: { "io.kubernetes.pod.uid": uid, suite: "conformance" },
    annotations: { note: "kept" },
  };
}

function container(image: string, name: string, command: string[]): ContainerConfig {
  return {
    metadata: { name, attempt: 0 },
    image,
    command,
    args: [],
    envs: [],
    mounts: [],
    labels: { "io.kubernetes.container.name": name },
    annotations: { "io.kubernetes.container.restartCount": "0" },
  };
}

/** Registers the suite's tests for `target`. */
export function runtimeConformance(target: ConformanceTarget): void {
  describe(`runtime conformance: ${target.name}`, () => {
    const made: ContainerRuntime[] = [];
    const make = async () => {
      const rt = await target.make();
      made.push(rt);
      return rt;
    };
    after(async () => {
      for (const rt of made) await rt.close();
    });

    it("reports a version and ready conditions", async () => {
      const rt = await make();
      assert.ok(value(await rt.version(), "version").runtimeName);
      const conds = value(await rt.status(), "status");
      for (const t of ["RuntimeReady", "NetworkReady"]) assert.equal(conds.find((c) => c.type === t)?.status, true, t);
    });

    it("runs a sandbox with an IP and keeps its labels", async () => {
      const rt = await make();
      const cfg = sandbox();
      const id = value(await rt.runPodSandbox(cfg), "runPodSandbox");
      const st = value(await rt.podSandboxStatus(id), "podSandboxStatus");
      assert.equal(st.state, "ready");
      assert.equal(st.ips.length, 1);
      assert.deepEqual(st.labels, cfg.labels);
      assert.deepEqual(st.annotations, cfg.annotations);
      const listed = value(await rt.listPodSandbox({ labelSelector: { "io.kubernetes.pod.uid": cfg.metadata.uid } }), "list");
      assert.deepEqual(listed.map((s) => s.id), [id]);
      value(await rt.stopPodSandbox(id), "stopPodSandbox");
      value(await rt.stopPodSandbox(id), "stopPodSandbox again (idempotent)");
      assert.equal(value(await rt.podSandboxStatus(id), "status").state, "notready");
      value(await rt.removePodSandbox(id), "removePodSandbox");
      assert.equal((await rt.podSandboxStatus(id)).ok, false);
    });

    it("gives two sandboxes different IPs", async () => {
      const rt = await make();
      const a = value(await rt.runPodSandbox(sandbox()), "a");
      const b = value(await rt.runPodSandbox(sandbox()), "b");
      const ipA = value(await rt.podSandboxStatus(a), "a").ips[0];
      const ipB = value(await rt.podSandboxStatus(b), "b").ips[0];
      assert.notEqual(ipA, ipB);
    });

    it("fails a pull of a missing image with NotFound", async () => {
      const rt = await make();
      const r = await rt.pullImage(target.missingImage);
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.error.code, "NotFound");
      assert.equal(value(await rt.imageStatus(target.missingImage), "imageStatus"), undefined);
    });

    it("runs a container to its exit code, keeping it until removed, with events", async () => {
      const rt = await make();
      const events: ContainerEvent[] = [];
      const unsubscribe = rt.subscribe((e) => events.push(e));
      value(await rt.pullImage(target.image), "pullImage");
      assert.ok(value(await rt.imageStatus(target.image), "imageStatus"));
      const sbCfg = sandbox();
      const sb = value(await rt.runPodSandbox(sbCfg), "sandbox");
      const id = value(await rt.createContainer(sb, container(target.image, "exit3", ["sh", "-c", "exit 3"]), sbCfg), "create");
      assert.equal(value(await rt.containerStatus(id), "status").state, "created");
      value(await rt.startContainer(id), "start");
      await eventually("the container to exit", async () => value(await rt.containerStatus(id), "status").state === "exited");
      const st = value(await rt.containerStatus(id), "status");
      assert.equal(st.exitCode, 3);
      assert.equal(st.reason, "Error");
      assert.ok(st.startedAt > 0 && st.finishedAt >= st.startedAt);
      assert.equal(st.labels["io.kubernetes.container.name"], "exit3");
      assert.equal(st.annotations["io.kubernetes.container.restartCount"], "0");
      assert.ok(st.imageRef);
      const types = events.filter((e) => e.containerId === id).map((e) => e.type);
      assert.deepEqual(types.slice(0, 3), ["created", "started", "stopped"]);
      assert.equal(events[0]!.sandboxLabels["io.kubernetes.pod.uid"], sbCfg.metadata.uid);
      value(await rt.removeContainer(id), "remove");
      assert.equal((await rt.containerStatus(id)).ok, false);
      unsubscribe();
    });

    it("stops a running container within the timeout", async () => {
      const rt = await make();
      value(await rt.pullImage(target.image), "pullImage");
      const sbCfg = sandbox();
      const sb = value(await rt.runPodSandbox(sbCfg), "sandbox");
      const id = value(await rt.createContainer(sb, container(target.image, "sleeper", ["sleep", "3600"]), sbCfg), "create");
      value(await rt.startContainer(id), "start");
      assert.equal(value(await rt.containerStatus(id), "status").state, "running");
      const running = value(await rt.listContainers({ podSandboxId: sb, state: "running" }), "list");
      assert.deepEqual(running.map((c) => c.id), [id]);
      value(await rt.stopContainer(id, 2), "stop");
      assert.equal(value(await rt.containerStatus(id), "status").state, "exited");
      value(await rt.stopContainer(id, 2), "stop again");
      value(await rt.removePodSandbox(sb), "removePodSandbox");
      assert.equal(value(await rt.listContainers({ podSandboxId: sb }), "list").length, 0);
    });

    it("answers NotFound for ids it does not know", async () => {
      const rt = await make();
      const unknown = "0".repeat(64);
      const codes = [
        await rt.podSandboxStatus(unknown),
        await rt.containerStatus(unknown),
        await rt.startContainer(unknown),
        await rt.stopContainer(unknown, 0),
        await rt.createContainer(unknown, container(target.image, "c", ["true"]), sandbox()),
      ].map((r) => (r.ok ? "ok" : r.error.code));
      assert.deepEqual(codes, ["NotFound", "NotFound", "NotFound", "NotFound", "NotFound"]);
      // Removal is idempotent: nothing to remove is success.
      value(await rt.removeContainer(unknown), "removeContainer");
      value(await rt.removePodSandbox(unknown), "removePodSandbox");
    });

    it("stops a sandbox's containers with it, and removes them with it, with events", async () => {
      const rt = await make();
      const events: ContainerEvent[] = [];
      const unsubscribe = rt.subscribe((e) => events.push(e));
      value(await rt.pullImage(target.image), "pullImage");
      const sbCfg = sandbox();
      const sb = value(await rt.runPodSandbox(sbCfg), "sandbox");
      const running = value(await rt.createContainer(sb, container(target.image, "running", ["sleep", "3600"]), sbCfg), "create running");
      value(await rt.startContainer(running), "start");
      const created = value(await rt.createContainer(sb, container(target.image, "created", ["sleep", "3600"]), sbCfg), "create created");
      value(await rt.stopPodSandbox(sb), "stopPodSandbox");
      assert.equal(value(await rt.podSandboxStatus(sb), "status").state, "notready");
      assert.deepEqual(value(await rt.podSandboxStatus(sb), "status").ips, []);
      for (const id of [running, created]) assert.equal(value(await rt.containerStatus(id), "status").state, "exited");
      assert.deepEqual(value(await rt.listContainers({ podSandboxId: sb, state: "exited" }), "list").map((c) => c.id).sort(), [running, created].sort());
      const again = await rt.createContainer(sb, container(target.image, "late", ["true"]), sbCfg);
      assert.equal(again.ok, false, "a stopped sandbox takes no new containers");
      value(await rt.removePodSandbox(sb), "removePodSandbox");
      assert.equal((await rt.containerStatus(running)).ok, false);
      for (const id of [running, created]) assert.deepEqual(events.filter((e) => e.containerId === id).map((e) => e.type).at(-1), "deleted");
      assert.deepEqual(value(await rt.listPodSandbox({ id: sb }), "list"), []);
      unsubscribe();
    });
  });
}
