import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findResource } from "../../api/resources.js";
import type { KObject } from "../registry/types.js";
import type { AdmissionAttributes, Operation } from "./admission.js";
import { defaultTolerationSeconds } from "./default-toleration-seconds.js";

const podsRes = findResource("", "v1", "pods")!;

function attrs(op: Operation, object: KObject | undefined, extra: Partial<AdmissionAttributes> = {}): AdmissionAttributes {
  return { operation: op, resource: podsRes, subresource: "", namespace: "default", name: "p", object, user: { username: "u", groups: [] }, dryRun: false, ...extra };
}
const pod = (tolerations?: unknown[]): KObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "p" },
  spec: { containers: [{ name: "c", image: "i" }], ...(tolerations ? { tolerations } : {}) },
});
const tolsOf = (p: KObject) => (p.spec as { tolerations?: unknown[] }).tolerations;

const NOT_READY = { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 };
const UNREACHABLE = { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 };

describe("DefaultTolerationSeconds admission", () => {
  const plugin = defaultTolerationSeconds();

  it("adds both tolerations to a pod with none", async () => {
    const p = pod();
    await plugin.admit!(attrs("CREATE", p));
    assert.deepEqual(tolsOf(p), [NOT_READY, UNREACHABLE]);
  });

  it("appends after the pod's own tolerations", async () => {
    const own = { key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule" };
    const p = pod([own]);
    await plugin.admit!(attrs("CREATE", p));
    assert.deepEqual(tolsOf(p), [own, NOT_READY, UNREACHABLE]);
  });

  it("leaves a pod that already tolerates not-ready:NoExecute alone for that taint", async () => {
    const own = { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 10 };
    const p = pod([own]);
    await plugin.admit!(attrs("CREATE", p));
    assert.deepEqual(tolsOf(p), [own, UNREACHABLE]);
  });

  it("treats an empty effect as matching NoExecute", async () => {
    const own = { key: "node.kubernetes.io/unreachable", operator: "Exists" };
    const p = pod([own]);
    await plugin.admit!(attrs("CREATE", p));
    assert.deepEqual(tolsOf(p), [own, NOT_READY]);
  });

  it("treats an empty key (tolerate everything) as matching both", async () => {
    const own = { operator: "Exists" };
    const p = pod([own]);
    await plugin.admit!(attrs("CREATE", p));
    assert.deepEqual(tolsOf(p), [own]);
  });

  it("does not count a toleration for another effect", async () => {
    const own = { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoSchedule" };
    const p = pod([own]);
    await plugin.admit!(attrs("CREATE", p));
    assert.deepEqual(tolsOf(p), [own, NOT_READY, UNREACHABLE]);
  });

  it("uses the configured seconds", async () => {
    const p = pod();
    await defaultTolerationSeconds({ notReadyTolerationSeconds: 30, unreachableTolerationSeconds: 60 }).admit!(attrs("CREATE", p));
    assert.deepEqual(tolsOf(p), [
      { ...NOT_READY, tolerationSeconds: 30 },
      { ...UNREACHABLE, tolerationSeconds: 60 },
    ]);
  });

  it("is idempotent and runs on UPDATE as upstream", async () => {
    const p = pod();
    await plugin.admit!(attrs("CREATE", p));
    await plugin.admit!(attrs("UPDATE", p, { oldObject: structuredClone(p) }));
    assert.deepEqual(tolsOf(p), [NOT_READY, UNREACHABLE]);
    const q = pod();
    await plugin.admit!(attrs("UPDATE", q, { oldObject: pod() }));
    assert.deepEqual(tolsOf(q), [NOT_READY, UNREACHABLE]);
  });

  it("ignores subresources, DELETE and other resources", async () => {
    const p = pod();
    await plugin.admit!(attrs("CREATE", p, { subresource: "binding" }));
    await plugin.admit!(attrs("DELETE", undefined, { oldObject: p }));
    await plugin.admit!(attrs("CREATE", p, { resource: findResource("", "v1", "configmaps")! }));
    assert.equal(tolsOf(p), undefined);
  });
});
