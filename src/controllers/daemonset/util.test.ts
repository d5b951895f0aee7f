import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { FakeClock } from "../../machinery/clock.js";
import { FailedPodsBackoff } from "./failed-pods-backoff.js";
import { nodeShouldRunDaemonPod } from "./node-should-run.js";
import { newDaemonSet, newNode } from "./testing.js";
import {
  addOrUpdateTolerationInPodSpec,
  allowsSurge,
  createPodTemplate,
  getTargetNodeName,
  getTemplateGeneration,
  isPodUpdated,
  replaceDaemonSetPodNodeNameNodeAffinity,
  surgeCount,
  unavailableCount,
} from "./util.js";

describe("DaemonSet util", () => {
  it("adds a toleration, replaces a matching one, leaves an equal one", () => {
    const spec = { containers: [], tolerations: [{ key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 60 }] };
    assert.ok(addOrUpdateTolerationInPodSpec(spec, { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute" }));
    assert.deepEqual(spec.tolerations, [{ key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute" }]);
    assert.ok(!addOrUpdateTolerationInPodSpec(spec, { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute" }));
    assert.ok(addOrUpdateTolerationInPodSpec(spec, { key: "x", operator: "Exists" }));
    assert.equal(spec.tolerations.length, 2);
  });

  it("makes the pod template: daemon tolerations (network-unavailable for hostNetwork), hash and generation labels", () => {
    const t = createPodTemplate({ metadata: { labels: { app: "a" } }, spec: { containers: [], hostNetwork: true } }, 4, "abc");
    assert.deepEqual(t.metadata?.labels, { app: "a", "pod-template-generation": "4", "controller-revision-hash": "abc" });
    assert.ok(t.spec?.tolerations?.some((x) => x.key === "node.kubernetes.io/network-unavailable" && x.effect === "NoSchedule"));
    assert.equal(createPodTemplate({ spec: { containers: [] } }, undefined, "").metadata?.labels?.["pod-template-generation"], undefined);
  });

  it("reads the template generation annotation", () => {
    const ds = newDaemonSet("a");
    assert.equal(getTemplateGeneration(ds), 1);
    ds.metadata!.annotations = {};
    assert.equal(getTemplateGeneration(ds), undefined);
    ds.metadata!.annotations = { "deprecated.daemonset.template.generation": "x" };
    assert.throws(() => getTemplateGeneration(ds), /invalid syntax/);
  });

  it("pins a pod to its node and finds the node again", () => {
    const affinity = replaceDaemonSetPodNodeNameNodeAffinity(
      { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "a", operator: "Exists" }] }] } }, podAffinity: {} },
      "n1",
    );
    assert.deepEqual(affinity, {
      podAffinity: {},
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: ["n1"] }] }] } },
    });
    const pod: Pod = { metadata: { name: "p", namespace: "ns" }, spec: { containers: [], affinity } };
    assert.equal(getTargetNodeName(pod), "n1");
    assert.equal(getTargetNodeName({ ...pod, spec: { ...pod.spec!, nodeName: "n2" } }), "n2");
    assert.throws(() => getTargetNodeName({ metadata: { name: "p", namespace: "ns" }, spec: { containers: [] } }), /no spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution for pod ns\/p/);
  });

  it("counts budgets: percentages round up; surge only with RollingUpdate", () => {
    const ds = newDaemonSet("a");
    ds.spec!.updateStrategy = { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "10%", maxSurge: "25%" } };
    assert.equal(unavailableCount(ds, 15), 2);
    assert.equal(surgeCount(ds, 3), 1);
    assert.ok(allowsSurge(ds));
    ds.spec!.updateStrategy = { type: "OnDelete" };
    assert.equal(surgeCount(ds, 3), 0);
    assert.equal(unavailableCount(ds, 3), 0);
  });

  it("tells updated pods by hash, or by template generation", () => {
    const pod: Pod = { metadata: { labels: { "controller-revision-hash": "h1", "pod-template-generation": "2" } } };
    assert.ok(isPodUpdated(pod, "h1", undefined));
    assert.ok(isPodUpdated(pod, "h2", 2));
    assert.ok(!isPodUpdated(pod, "h2", 3));
  });
});

describe("nodeShouldRunDaemonPod", () => {
  it("runs on untainted nodes, not on NoSchedule-tainted ones, and keeps pods only while NoExecute is tolerated", () => {
    const ds = newDaemonSet("a");
    assert.deepEqual(nodeShouldRunDaemonPod(newNode("n"), ds), { shouldRun: true, shouldContinueRunning: true });
    assert.deepEqual(nodeShouldRunDaemonPod(newNode("n", {}, [{ key: "k", effect: "NoSchedule" }]), ds), { shouldRun: false, shouldContinueRunning: true });
    assert.deepEqual(nodeShouldRunDaemonPod(newNode("n", {}, [{ key: "k", effect: "NoExecute" }]), ds), { shouldRun: false, shouldContinueRunning: false });
    // The daemon tolerations: not-ready, unreachable, pressure and unschedulable taints never keep it off.
    const tolerated = newNode("n", {}, [
      { key: "node.kubernetes.io/not-ready", effect: "NoExecute" },
      { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" },
      { key: "node.kubernetes.io/disk-pressure", effect: "NoSchedule" },
    ]);
    assert.deepEqual(nodeShouldRunDaemonPod(tolerated, ds), { shouldRun: true, shouldContinueRunning: true });
    // network-unavailable only for hostNetwork pods.
    const netDown = newNode("n", {}, [{ key: "node.kubernetes.io/network-unavailable", effect: "NoSchedule" }]);
    assert.equal(nodeShouldRunDaemonPod(netDown, ds).shouldRun, false);
    ds.spec!.template.spec!.hostNetwork = true;
    assert.equal(nodeShouldRunDaemonPod(netDown, ds).shouldRun, true);
  });

  it("follows nodeSelector, node affinity and spec.nodeName", () => {
    const ds = newDaemonSet("a");
    ds.spec!.template.spec!.affinity = {
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] }] } },
    };
    assert.equal(nodeShouldRunDaemonPod(newNode("n", { zone: "a" }), ds).shouldRun, true);
    assert.equal(nodeShouldRunDaemonPod(newNode("n", { zone: "b" }), ds).shouldRun, false);
    ds.spec!.template.spec!.nodeName = "other";
    assert.deepEqual(nodeShouldRunDaemonPod(newNode("n", { zone: "a" }), ds), { shouldRun: false, shouldContinueRunning: false });
  });
});

describe("FailedPodsBackoff", () => {
  it("doubles per key from 1 s, and forgets keys idle for twice the maximum", () => {
    const clock = new FakeClock(0);
    const b = new FailedPodsBackoff(clock, 1000, 4000);
    assert.ok(!b.isInBackOffSinceUpdate("k", clock.now()));
    b.next("k", clock.now());
    assert.equal(b.get("k"), 1000);
    assert.ok(b.isInBackOffSinceUpdate("k", clock.now() + 999));
    assert.ok(!b.isInBackOffSinceUpdate("k", clock.now() + 1000));
    b.next("k", clock.now());
    b.next("k", clock.now());
    b.next("k", clock.now());
    assert.equal(b.get("k"), 4000);
    clock.advance(8001);
    b.gc();
    assert.equal(b.get("k"), 0);
  });
});
