import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findResource, type ResourceType } from "../../api/resources.js";
import { notFound, StatusError } from "../../machinery/status-error.js";
import type { KObject } from "../registry/types.js";
import type { AdmissionAttributes, Operation } from "./admission.js";
import { forbiddenNodeLabels, MIRROR_POD_ANNOTATION, nodeRestriction, type ObjectGetter } from "./node-restriction.js";

const res = (g: string, v: string, p: string) => findResource(g, v, p)!;
const podsRes = res("", "v1", "pods");
const nodesRes = res("", "v1", "nodes");
const leasesRes = res("coordination.k8s.io", "v1", "leases");
const pvcRes = res("", "v1", "persistentvolumeclaims");
const saRes = res("", "v1", "serviceaccounts");
const n1 = { username: "system:node:n1", groups: ["system:nodes", "system:authenticated"] };

function getter(objs: Record<string, KObject>, resource: string): ObjectGetter {
  return {
    async get(ns, name) {
      const o = objs[`${ns ?? ""}/${name}`];
      if (!o) throw notFound({ group: "", resource }, name);
      return o;
    },
  };
}

const pods = getter(
  {
    "ns/mine": { metadata: { name: "mine", namespace: "ns", uid: "pod-uid" }, spec: { nodeName: "n1" } },
    "ns/theirs": { metadata: { name: "theirs", namespace: "ns", uid: "t-uid" }, spec: { nodeName: "n2" } },
  },
  "pods",
);
const nodes = getter({ "/n1": { metadata: { name: "n1", uid: "node-uid" } } }, "nodes");
const plugin = nodeRestriction({ pods, nodes });

function attrs(op: Operation, resource: ResourceType, extra: Partial<AdmissionAttributes> = {}): AdmissionAttributes {
  return { operation: op, resource, subresource: "", namespace: resource.namespaced ? "ns" : "", name: "", user: n1, dryRun: false, ...extra };
}

async function rejects(a: AdmissionAttributes, code: number, message: string): Promise<void> {
  await assert.rejects(
    async () => plugin.validate!(a),
    (err: unknown) => {
      assert.ok(err instanceof StatusError);
      assert.equal(err.status.message, message);
      assert.equal(err.status.code, code);
      return true;
    },
  );
}

const mirror = (extra: Record<string, unknown> = {}, spec: Record<string, unknown> = {}): KObject => ({
  metadata: {
    name: "m",
    namespace: "ns",
    annotations: { [MIRROR_POD_ANNOTATION]: "x" },
    ownerReferences: [{ apiVersion: "v1", kind: "Node", name: "n1", uid: "node-uid", controller: true }],
    ...extra,
  },
  spec: { nodeName: "n1", containers: [{ name: "c", image: "i" }], ...spec },
});

describe("NodeRestriction admission", () => {
  it("leaves other users alone", async () => {
    await plugin.validate!(attrs("UPDATE", nodesRes, { name: "n2", user: { username: "alice", groups: ["system:nodes"] }, object: {}, oldObject: {} }));
  });

  it("lets a node create only mirror pods bound to itself, owned by itself, referencing nothing", async () => {
    await plugin.validate!(attrs("CREATE", podsRes, { object: mirror() }));
    await rejects(
      attrs("CREATE", podsRes, { object: { metadata: { name: "p" }, spec: { nodeName: "n1" } } }),
      403,
      `pods "p" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only create mirror pods`,
    );
    await rejects(
      attrs("CREATE", podsRes, { object: mirror({ name: undefined, generateName: "static-" }, { nodeName: "n2" }) }),
      403,
      `pods "static-" is forbidden: node "n1" can only create pods with spec.nodeName set to itself`,
    );
    await rejects(attrs("CREATE", podsRes, { object: mirror({}, { nodeName: "n2" }) }), 403, `pods "m" is forbidden: node "n1" can only create pods with spec.nodeName set to itself`);
    await rejects(attrs("CREATE", podsRes, { object: mirror({ ownerReferences: [] }) }), 403, `pods "m" is forbidden: node "n1" can only create pods with an owner reference set to itself`);
    await rejects(
      attrs("CREATE", podsRes, { object: mirror({ ownerReferences: [{ apiVersion: "v1", kind: "Node", name: "n1", uid: "node-uid" }] }) }),
      403,
      `pods "m" is forbidden: node "n1" can only create pods with a controller owner reference set to itself`,
    );
    await rejects(
      attrs("CREATE", podsRes, { object: mirror({ ownerReferences: [{ apiVersion: "v1", kind: "Node", name: "n1", uid: "other", controller: true }] }) }),
      403,
      `pods "m" is forbidden: node n1 UID mismatch: expected node-uid got other`,
    );
    await rejects(attrs("CREATE", podsRes, { object: mirror({}, { serviceAccountName: "default" }) }), 403, `pods "m" is forbidden: node "n1" can not create pods that reference a service account`);
    await rejects(
      attrs("CREATE", podsRes, { object: mirror({}, { volumes: [{ name: "s", secret: { secretName: "s" } }] }) }),
      403,
      `pods "m" is forbidden: node "n1" can not create pods that reference secrets`,
    );
    await rejects(
      attrs("CREATE", podsRes, { object: mirror({}, { volumes: [{ name: "c", configMap: { name: "c" } }] }) }),
      403,
      `pods "m" is forbidden: node "n1" can not create pods that reference configmaps`,
    );
    await rejects(
      attrs("CREATE", podsRes, { object: mirror({}, { volumes: [{ name: "c", persistentVolumeClaim: { claimName: "c" } }] }) }),
      403,
      `pods "m" is forbidden: node "n1" can not create pods that reference persistentvolumeclaims`,
    );
  });

  it("lets a node delete, update the status of and evict only its own pods", async () => {
    await plugin.validate!(attrs("DELETE", podsRes, { name: "mine", oldObject: { spec: { nodeName: "n1" } } }));
    await rejects(attrs("DELETE", podsRes, { name: "theirs", oldObject: { spec: { nodeName: "n2" } } }), 403, `pods "Unknown" is forbidden: node "n1" can only delete pods with spec.nodeName set to itself`);
    await rejects(attrs("UPDATE", podsRes, { name: "mine", object: { metadata: { name: "mine" } }, oldObject: {} }), 403, `pods "mine" is forbidden: unexpected operation "UPDATE", node "n1" can only create and delete mirror pods`);
    const pod = (node: string, labels: Record<string, string> = {}) => ({ metadata: { name: "p", labels }, spec: { nodeName: node } });
    await plugin.validate!(attrs("UPDATE", podsRes, { subresource: "status", name: "p", object: pod("n1"), oldObject: pod("n1") }));
    await rejects(
      attrs("UPDATE", podsRes, { subresource: "status", name: "p", object: pod("n2"), oldObject: pod("n2") }),
      403,
      `pods "p" is forbidden: node "n1" can only update pod status for pods with spec.nodeName set to itself`,
    );
    await rejects(
      attrs("UPDATE", podsRes, { subresource: "status", name: "p", object: pod("n1", { a: "b" }), oldObject: pod("n1") }),
      403,
      `pods "p" is forbidden: node "n1" cannot update labels through pod status`,
    );
    await plugin.validate!(attrs("CREATE", podsRes, { subresource: "eviction", name: "mine", object: { metadata: { name: "mine" } } }));
    await rejects(attrs("CREATE", podsRes, { subresource: "eviction", name: "theirs", object: {} }), 403, `pods "Unknown" is forbidden: node n1 can only evict pods with spec.nodeName set to itself`);
    await rejects(attrs("CREATE", podsRes, { subresource: "eviction", name: "gone", object: {} }), 404, `pods "gone" not found`);
    await rejects(attrs("CREATE", podsRes, { subresource: "binding", name: "mine", object: { metadata: { name: "mine" } } }), 403, `pods "mine" is forbidden: unexpected pod subresource "binding", only 'status' and 'eviction' are allowed`);
  });

  it("keeps a node to its own Node, its taints and the kubelet's labels", async () => {
    const node = (labels: Record<string, string>, taints?: unknown[], name = "n1") => ({ metadata: { name, labels }, spec: taints ? { taints } : {} });
    await plugin.validate!(attrs("CREATE", nodesRes, { object: node({ "kubernetes.io/hostname": "n1", "node.kubernetes.io/x": "1", "example.com/free": "y" }, [{ key: "k", effect: "NoSchedule" }]) }));
    await rejects(attrs("UPDATE", nodesRes, { name: "n2", object: node({}, undefined, "n2"), oldObject: node({}, undefined, "n2") }), 403, `nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"`);
    await rejects(
      attrs("CREATE", nodesRes, { object: node({ "node-role.kubernetes.io/control-plane": "", "node-restriction.kubernetes.io/x": "y" }) }),
      403,
      `nodes "n1" is forbidden: node "n1" is not allowed to set the following labels: node-restriction.kubernetes.io/x, node-role.kubernetes.io/control-plane`,
    );
    await rejects(
      attrs("UPDATE", nodesRes, { name: "n1", object: node({}, [{ key: "k", effect: "NoSchedule" }]), oldObject: node({}) }),
      403,
      `nodes "n1" is forbidden: node "n1" is not allowed to modify taints`,
    );
    await plugin.validate!(attrs("UPDATE", nodesRes, { name: "n1", object: node({}, []), oldObject: node({}) }));
    await rejects(
      attrs("UPDATE", nodesRes, { name: "n1", object: node({}), oldObject: node({ "k8s.io/owned": "x", "kubelet.kubernetes.io/ok": "1" }) }),
      403,
      `nodes "n1" is forbidden: is not allowed to modify labels: k8s.io/owned`,
    );
    assert.deepEqual(forbiddenNodeLabels(["sub.kubelet.kubernetes.io/a", "topology.kubernetes.io/zone", "a.node-restriction.kubernetes.io/b"]), ["a.node-restriction.kubernetes.io/b"]);
  });

  it("keeps leases to the node's own in kube-node-lease", async () => {
    await plugin.validate!(attrs("CREATE", leasesRes, { namespace: "kube-node-lease", object: { metadata: { name: "n1" } } }));
    await rejects(
      attrs("CREATE", leasesRes, { namespace: "kube-node-lease", object: { metadata: { name: "n2" } } }),
      403,
      `leases.coordination.k8s.io "n2" is forbidden: can only access node lease with the same name as the requesting node`,
    );
    await rejects(attrs("UPDATE", leasesRes, { namespace: "default", name: "n1", object: { metadata: { name: "n1" } } }), 403, `leases.coordination.k8s.io "n1" is forbidden: can only access leases in the "kube-node-lease" system namespace`);
  });

  it("limits PVC writes to status capacity and conditions", async () => {
    const pvc = (status: Record<string, unknown>, labels: Record<string, string> = {}) => ({ metadata: { name: "c", labels, resourceVersion: "1" }, spec: {}, status });
    await plugin.validate!(attrs("UPDATE", pvcRes, { subresource: "status", name: "c", object: pvc({ capacity: { storage: "2Gi" } }), oldObject: pvc({}) }));
    await rejects(attrs("UPDATE", pvcRes, { name: "c", object: pvc({}), oldObject: pvc({}) }), 403, `persistentvolumeclaims "c" is forbidden: may only update PVC status`);
    await assert.rejects(
      async () => plugin.validate!(attrs("UPDATE", pvcRes, { subresource: "status", name: "c", object: pvc({ phase: "Lost" }), oldObject: pvc({}) })),
      /persistentvolumeclaims "c" is forbidden: node "n1" is not allowed to update fields other than status.capacity and status.conditions: changed: status.phase/,
    );
  });

  it("lets a node request only tokens bound to its own pods", async () => {
    const tr = (ref?: Record<string, unknown>) => ({ apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { audiences: [], ...(ref ? { boundObjectRef: ref } : {}) } });
    const a = (ref?: Record<string, unknown>) => attrs("CREATE", saRes, { subresource: "token", name: "default", object: tr(ref) });
    await plugin.validate!(a({ apiVersion: "v1", kind: "Pod", name: "mine", uid: "pod-uid" }));
    await rejects(a(), 403, `serviceaccounts "Unknown" is forbidden: node requested token not bound to a pod`);
    await rejects(a({ apiVersion: "v1", kind: "Pod", name: "mine" }), 403, `serviceaccounts "Unknown" is forbidden: node requested token with a pod binding without a uid`);
    await rejects(
      a({ apiVersion: "v1", kind: "Pod", name: "mine", uid: "old" }),
      403,
      `serviceaccounts "Unknown" is forbidden: the UID in the bound object reference (old) does not match the UID in record. The object might have been deleted and then recreated`,
    );
    await rejects(a({ apiVersion: "v1", kind: "Pod", name: "theirs", uid: "t-uid" }), 403, `serviceaccounts "Unknown" is forbidden: node requested token bound to a pod scheduled on a different node`);
  });
});
