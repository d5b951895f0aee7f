import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { DaemonSet } from "kubernetes-types/apps/v1.js";
import type { Node } from "kubernetes-types/core/v1.js";
import { DAEMON_SET_TEMPLATE_GENERATION_KEY, DEFAULT_DAEMON_SET_UNIQUE_LABEL_KEY } from "./kinds.js";
import { harness, newDaemonSet, newNode } from "./testing.js";
import { getTargetNodeName } from "./util.js";

const stops: AbortController[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s.abort();
});

async function start(dss: DaemonSet[], nodes: Node[]) {
  const stop = new AbortController();
  stops.push(stop);
  return harness(dss, nodes, stop.signal);
}

const targets = (h: Awaited<ReturnType<typeof start>>) => h.pods().map(getTargetNodeName);

describe("DaemonSet sync: placement", () => {
  it("creates one pod per node, pinned by node affinity, with the daemon tolerations and revision labels", async () => {
    const ds = newDaemonSet("agent");
    const h = await start([ds], [newNode("n1"), newNode("n2"), newNode("n3")]);
    await h.sync(ds);
    assert.deepEqual(targets(h), ["n1", "n2", "n3"]);
    const pod = h.pods()[0]!;
    assert.equal(pod.spec?.nodeName, undefined, "the scheduler binds it");
    assert.deepEqual(pod.spec?.affinity, {
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: ["n1"] }] }] } },
    });
    assert.deepEqual(
      pod.spec?.tolerations?.map((t) => `${t.key}:${t.effect}`),
      [
        "node.kubernetes.io/not-ready:NoExecute",
        "node.kubernetes.io/unreachable:NoExecute",
        "node.kubernetes.io/disk-pressure:NoSchedule",
        "node.kubernetes.io/memory-pressure:NoSchedule",
        "node.kubernetes.io/pid-pressure:NoSchedule",
        "node.kubernetes.io/unschedulable:NoSchedule",
      ],
    );
    const revs = (await h.revSource.list()).items;
    assert.equal(revs.length, 1);
    const hash = revs[0]!.metadata!.labels![DEFAULT_DAEMON_SET_UNIQUE_LABEL_KEY]!;
    assert.equal(revs[0]!.metadata!.name, `agent-${hash}`);
    assert.equal(revs[0]!.revision, 1);
    assert.deepEqual(pod.metadata?.labels, { name: "agent", [DEFAULT_DAEMON_SET_UNIQUE_LABEL_KEY]: hash, [DAEMON_SET_TEMPLATE_GENERATION_KEY]: "1" });
    assert.equal(pod.metadata?.ownerReferences?.[0]?.kind, "DaemonSet");
  });

  it("waits for its creates to be observed before acting again (expectations)", async () => {
    const ds = newDaemonSet("agent");
    const h = await start([ds], [newNode("n1")]);
    h.controller.expectations.setExpectations("default/agent", 1, 0);
    await h.sync(ds);
    assert.equal(h.pods().length, 0);
    assert.equal(h.status(ds)?.desiredNumberScheduled, 1);
    assert.equal(h.status(ds)?.observedGeneration, undefined, "not raised while waiting");
  });

  it("skips a node with an untolerated NoSchedule taint, and uses it once the DaemonSet tolerates it", async () => {
    const ds = newDaemonSet("agent");
    const h = await start([ds], [newNode("n1"), newNode("n2", {}, [{ key: "dedicated", value: "db", effect: "NoSchedule" }])]);
    await h.converge(ds);
    assert.deepEqual(targets(h), ["n1"]);
    assert.equal(h.status(ds)?.desiredNumberScheduled, 1);
    h.edit(ds, (d) => {
      d.spec!.template.spec!.tolerations = [{ key: "dedicated", operator: "Equal", value: "db", effect: "NoSchedule" }];
    });
    await h.converge(ds);
    assert.deepEqual(targets(h), ["n1", "n2"]);
  });

  it("honours nodeSelector, and removes pods from nodes that no longer match", async () => {
    const ds = newDaemonSet("agent");
    ds.spec!.template.spec!.nodeSelector = { role: "edge" };
    const h = await start([ds], [newNode("n1", { role: "edge" }), newNode("n2")]);
    await h.converge(ds);
    assert.deepEqual(targets(h), ["n1"]);
    h.nodeSource.set(newNode("n1"));
    await h.converge(ds);
    assert.deepEqual(targets(h), []);
  });

  it("keeps a pod on a node tainted NoExecute it tolerates, but schedules none there (status misscheduled)", async () => {
    const ds = newDaemonSet("agent");
    const h = await start([ds], [newNode("n1")]);
    await h.converge(ds);
    // not-ready NoExecute is tolerated by every daemon pod; an untolerated NoExecute one is not.
    h.nodeSource.set(newNode("n1", {}, [{ key: "gone", effect: "NoExecute" }]));
    await h.converge(ds);
    assert.deepEqual(targets(h), []);
  });

  it("reports status: desired, current, ready, available, updated", async () => {
    const ds = newDaemonSet("agent");
    const h = await start([ds], [newNode("n1"), newNode("n2")]);
    await h.sync(ds);
    let st = h.status(ds)!;
    assert.deepEqual(st, { currentNumberScheduled: 2, numberMisscheduled: 0, desiredNumberScheduled: 2, numberReady: 0, observedGeneration: 1, updatedNumberScheduled: 2, numberUnavailable: 2 });
    await h.converge(ds);
    st = h.status(ds)!;
    assert.deepEqual(st, { currentNumberScheduled: 2, numberMisscheduled: 0, desiredNumberScheduled: 2, numberReady: 2, observedGeneration: 1, updatedNumberScheduled: 2, numberAvailable: 2 });
  });

  it("deletes a Failed pod with a FailedDaemonPod event, backing off between attempts", async () => {
    const ds = newDaemonSet("agent");
    const h = await start([ds], [newNode("n1")]);
    await h.converge(ds);
    const pod = h.pods()[0]!;
    h.podSource.set({ ...pod, status: { phase: "Failed" } });
    await h.sync(ds);
    assert.deepEqual(h.podControl.deleted, [pod.metadata!.name]);
    assert.deepEqual(h.recorder.notes("FailedDaemonPod"), [`Found failed daemon pod default/${pod.metadata!.name} on node n1, will try to kill it`]);
    // The replacement fails too, within the backoff: it stays until the backoff passes.
    await h.sync(ds);
    const second = h.pods()[0]!;
    h.podSource.set({ ...second, spec: { ...second.spec!, nodeName: "n1" }, status: { phase: "Failed" } });
    await h.sync(ds);
    assert.equal(h.podControl.deleted.length, 1);
    h.timers.advance(1500);
    await h.sync(ds);
    assert.equal(h.podControl.deleted.length, 2);
  });

  it("creates a pod on a node added later", async () => {
    const ds = newDaemonSet("agent");
    const h = await start([ds], [newNode("n1")]);
    await h.converge(ds);
    h.nodeSource.set(newNode("n2"));
    await h.converge(ds);
    assert.deepEqual(targets(h), ["n1", "n2"]);
  });
});

describe("DaemonSet sync: updates", () => {
  it("rolls a new template out one node at a time (maxUnavailable 1)", async () => {
    const ds = newDaemonSet("agent");
    const h = await start([ds], [newNode("n1"), newNode("n2"), newNode("n3")]);
    await h.converge(ds);
    h.edit(ds, (d) => {
      d.spec!.template.spec!.containers[0]!.image = "agent:2";
    });
    await h.sync(ds);
    // One old pod deleted; the core loop recreates it on the next sync.
    assert.equal(h.podControl.deleted.length, 1);
    assert.equal(h.pods().length, 2);
    await h.converge(ds);
    assert.deepEqual(
      h.pods().map((p) => p.spec?.containers[0]?.image),
      ["agent:2", "agent:2", "agent:2"],
    );
    const revs = (await h.revSource.list()).items.sort((a, b) => a.revision - b.revision);
    assert.deepEqual(revs.map((r) => r.revision), [1, 2]);
    const hash = revs[1]!.metadata!.labels![DEFAULT_DAEMON_SET_UNIQUE_LABEL_KEY];
    for (const p of h.pods()) {
      assert.equal(p.metadata?.labels?.[DEFAULT_DAEMON_SET_UNIQUE_LABEL_KEY], hash);
      assert.equal(p.metadata?.labels?.[DAEMON_SET_TEMPLATE_GENERATION_KEY], "2");
    }
    const st = h.status(ds)!;
    assert.equal(st.updatedNumberScheduled, 3);
    assert.equal(st.numberAvailable, 3);
    assert.equal(st.observedGeneration, 2);
  });

  it("never deletes more than maxUnavailable pods at once", async () => {
    const ds = newDaemonSet("agent");
    ds.spec!.updateStrategy = { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 2, maxSurge: 0 } };
    const h = await start([ds], [newNode("n1"), newNode("n2"), newNode("n3")]);
    await h.converge(ds);
    h.edit(ds, (d) => {
      d.spec!.template.spec!.containers[0]!.image = "agent:2";
    });
    await h.sync(ds);
    assert.equal(h.podControl.deleted.length, 2);
  });

  it("surges: starts the new pod next to the old one and deletes the old one once the new one is available", async () => {
    const ds = newDaemonSet("agent");
    ds.spec!.updateStrategy = { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } };
    const h = await start([ds], [newNode("n1"), newNode("n2")]);
    await h.converge(ds);
    h.edit(ds, (d) => {
      d.spec!.template.spec!.containers[0]!.image = "agent:2";
    });
    await h.sync(ds);
    assert.equal(h.podControl.deleted.length, 0);
    assert.equal(h.pods().length, 3, "one surge pod");
    await h.converge(ds);
    assert.deepEqual(
      h.pods().map((p) => p.spec?.containers[0]?.image),
      ["agent:2", "agent:2"],
    );
  });

  it("OnDelete leaves old pods until they are deleted", async () => {
    const ds = newDaemonSet("agent");
    ds.spec!.updateStrategy = { type: "OnDelete" };
    const h = await start([ds], [newNode("n1"), newNode("n2")]);
    await h.converge(ds);
    h.edit(ds, (d) => {
      d.spec!.template.spec!.containers[0]!.image = "agent:2";
    });
    await h.converge(ds);
    assert.equal(h.podControl.deleted.length, 0);
    assert.equal(h.status(ds)?.updatedNumberScheduled, undefined);
    const first = h.pods()[0]!;
    h.podSource.remove(`default/${first.metadata!.name}`);
    await h.converge(ds);
    assert.deepEqual(
      h.pods().map((p) => p.spec?.containers[0]?.image),
      ["agent:2", "agent:1"],
    );
  });

  it("reuses the old revision on a rollback and keeps at most revisionHistoryLimit old ones", async () => {
    const ds = newDaemonSet("agent");
    ds.spec!.revisionHistoryLimit = 1;
    const h = await start([ds], [newNode("n1")]);
    await h.converge(ds);
    const first = (await h.revSource.list()).items[0]!.metadata!.name;
    for (const image of ["agent:2", "agent:3", "agent:1"]) {
      h.edit(ds, (d) => {
        d.spec!.template.spec!.containers[0]!.image = image;
      });
      await h.converge(ds);
    }
    const revs = (await h.revSource.list()).items.sort((a, b) => a.revision - b.revision);
    // agent:1 came back as revision 4 (its revision renumbered), agent:3 is the one kept; agent:2 was pruned.
    assert.equal(revs.length, 2);
    assert.equal(revs[1]!.revision, 4);
    assert.equal(revs[1]!.metadata?.name, first);
    assert.equal(revs[0]!.revision, 3);
    assert.equal(h.pods()[0]!.spec?.containers[0]?.image, "agent:1");
  });
});
