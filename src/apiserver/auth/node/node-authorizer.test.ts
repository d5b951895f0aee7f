import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findResource } from "../../../api/resources.js";
import { openMemoryStore } from "../../../storage/backends/memory/memory-store.js";
import { ObjectStore } from "../../registry/object-store.js";
import { strategyFor } from "../../registry/strategies.js";
import type { KObject } from "../../registry/types.js";
import { parseRequestInfo } from "../../request-info.js";
import type { UserInfo } from "../authn.js";
import { NodeGraph } from "./graph.js";
import { createNodeAuthorizer } from "./index.js";
import { NodeAuthorizer } from "./node-authorizer.js";

const node = (name: string): UserInfo => ({ username: `system:node:${name}`, groups: ["system:nodes", "system:authenticated"] });
const req = (method: string, path: string) => parseRequestInfo(method, new URL(path, "https://x"));

function pod(ns: string, name: string, nodeName: string | undefined, spec: Record<string, unknown> = {}): KObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { namespace: ns, name },
    spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: "c", image: "busybox" }], ...spec },
  };
}

const fullPod = pod("ns", "p1", "n1", {
  serviceAccountName: "sa1",
  imagePullSecrets: [{ name: "pull" }],
  initContainers: [{ name: "i", image: "x", env: [{ name: "A", valueFrom: { secretKeyRef: { name: "init-env", key: "k" } } }] }],
  containers: [
    {
      name: "c",
      image: "x",
      envFrom: [{ secretRef: { name: "envfrom" } }, { configMapRef: { name: "cm-envfrom" } }],
      env: [{ name: "B", valueFrom: { configMapKeyRef: { name: "cm-env", key: "k" } } }],
    },
  ],
  volumes: [
    { name: "s", secret: { secretName: "vol" } },
    { name: "c", configMap: { name: "cm-vol" } },
    { name: "p", projected: { sources: [{ secret: { name: "proj" } }, { configMap: { name: "kube-root-ca.crt" } }, { serviceAccountToken: { path: "token" } }] } },
    { name: "claim", persistentVolumeClaim: { claimName: "data" } },
    { name: "eph", ephemeral: { volumeClaimTemplate: { spec: {} } } },
    { name: "csi", csi: { driver: "d", nodePublishSecretRef: { name: "csi-secret" } } },
  ],
});

describe("Node authorizer", () => {
  const graph = new NodeGraph();
  const authz = new NodeAuthorizer(graph);
  graph.setPod(fullPod);
  graph.setPod(pod("ns", "other", "n2", { volumes: [{ name: "s", secret: { secretName: "n2-only" } }] }));
  graph.setPod(pod("ns", "pending", undefined, { volumes: [{ name: "s", secret: { secretName: "unbound" } }] }));

  it("lets a node read every secret and configmap its pods reference, and nothing else", () => {
    for (const s of ["pull", "init-env", "envfrom", "vol", "proj", "csi-secret"]) {
      assert.equal(authz.authorize(node("n1"), req("GET", `/api/v1/namespaces/ns/secrets/${s}`)).decision, "allow", s);
    }
    for (const c of ["cm-envfrom", "cm-env", "cm-vol", "kube-root-ca.crt"]) {
      assert.equal(authz.authorize(node("n1"), req("GET", `/api/v1/namespaces/ns/configmaps/${c}`)).decision, "allow", c);
    }
    assert.deepEqual(authz.authorize(node("n1"), req("GET", "/api/v1/namespaces/ns/secrets/n2-only")), {
      decision: "no-opinion",
      reason: "no relationship found between node 'n1' and this object",
    });
    // The same name in another namespace is another object.
    assert.equal(authz.authorize(node("n1"), req("GET", "/api/v1/namespaces/other/secrets/vol")).decision, "no-opinion");
    // A pod bound to no node gives no node anything.
    assert.equal(authz.authorize(node("n1"), req("GET", "/api/v1/namespaces/ns/secrets/unbound")).decision, "no-opinion");
  });

  it("refuses writes, subresources, lists without a name and cluster-scoped secret requests with upstream reasons", () => {
    const reason = (m: string, p: string) => authz.authorize(node("n1"), req(m, p)).reason;
    assert.equal(reason("PUT", "/api/v1/namespaces/ns/secrets/vol"), "can only read resources of this type");
    assert.equal(reason("DELETE", "/api/v1/namespaces/ns/secrets/vol"), "can only read resources of this type");
    assert.equal(reason("GET", "/api/v1/namespaces/ns/secrets"), "No Object name found");
    assert.equal(reason("GET", "/api/v1/secrets"), "can only read namespaced object of this type");
    assert.equal(reason("GET", "/api/v1/namespaces/ns/secrets/vol/status"), "cannot read subresource");
  });

  it("follows pvc → pv → secret, and generic ephemeral claims", () => {
    graph.setPV({ metadata: { name: "pv1" }, spec: { claimRef: { namespace: "ns", name: "data" }, csi: { driver: "d", nodeStageSecretRef: { namespace: "kube-system", name: "stage" } } } });
    const d = (p: string, m = "GET") => authz.authorize(node("n1"), req(m, p)).decision;
    assert.equal(d("/api/v1/namespaces/ns/persistentvolumeclaims/data"), "allow");
    assert.equal(d("/api/v1/namespaces/ns/persistentvolumeclaims/p1-eph"), "allow");
    assert.equal(d("/api/v1/persistentvolumes/pv1"), "allow");
    assert.equal(d("/api/v1/namespaces/kube-system/secrets/stage"), "allow");
    assert.equal(d("/api/v1/namespaces/ns/persistentvolumeclaims/data/status", "PATCH"), "allow");
    assert.equal(authz.authorize(node("n1"), req("GET", "/api/v1/persistentvolumes")).reason, "can only get individual resources of this type");
    assert.equal(authz.authorize(node("n2"), req("GET", "/api/v1/persistentvolumes/pv1")).decision, "no-opinion");
    graph.deletePV("pv1");
    assert.equal(d("/api/v1/persistentvolumes/pv1"), "no-opinion");
    assert.equal(d("/api/v1/namespaces/kube-system/secrets/stage"), "no-opinion");
  });

  it("allows tokens only for its pods' service accounts", () => {
    assert.equal(authz.authorize(node("n1"), req("POST", "/api/v1/namespaces/ns/serviceaccounts/sa1/token")).decision, "allow");
    assert.equal(authz.authorize(node("n2"), req("POST", "/api/v1/namespaces/ns/serviceaccounts/sa1/token")).reason, "no relationship found between node 'n2' and this object");
    assert.equal(authz.authorize(node("n1"), req("GET", "/api/v1/namespaces/ns/serviceaccounts/sa1")).reason, "can only create tokens for individual service accounts");
    assert.equal(authz.authorize(node("n1"), req("POST", "/api/v1/namespaces/ns/serviceaccounts")).reason, "can only create tokens for individual service accounts");
  });

  it("limits leases to its own in kube-node-lease", () => {
    const r = (m: string, p: string) => authz.authorize(node("n1"), req(m, p));
    assert.equal(r("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1").decision, "allow");
    assert.equal(r("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases").decision, "allow");
    assert.equal(r("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n2").reason, "can only access node lease with the same name as the requesting node");
    assert.equal(r("GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/n1").reason, 'can only access leases in the "kube-node-lease" system namespace');
    assert.equal(r("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases").reason, "can only get, create, update, patch, or delete a node lease");
  });

  it("grants the static node rules and nothing beyond them", () => {
    const d = (m: string, p: string) => authz.authorize(node("n1"), req(m, p)).decision;
    assert.equal(d("GET", "/api/v1/nodes"), "allow");
    assert.equal(d("PATCH", "/api/v1/nodes/n1/status"), "allow");
    assert.equal(d("GET", "/api/v1/pods"), "allow");
    assert.equal(d("PUT", "/api/v1/namespaces/ns/pods/p1/status"), "allow");
    assert.equal(d("POST", "/api/v1/namespaces/ns/pods/p1/eviction"), "allow");
    assert.equal(d("POST", "/api/v1/namespaces/ns/events"), "allow");
    assert.equal(d("PUT", "/api/v1/namespaces/ns/pods/p1"), "no-opinion");
    assert.equal(d("DELETE", "/api/v1/nodes/n1"), "no-opinion");
    assert.equal(d("GET", "/apis/apps/v1/deployments"), "no-opinion");
    assert.equal(d("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"), "no-opinion");
    assert.equal(d("GET", "/metrics"), "no-opinion");
  });

  it("has no opinion about users who are not nodes", () => {
    const notInGroup = { username: "system:node:n1", groups: ["system:authenticated"] };
    assert.deepEqual(authz.authorize(notInGroup, req("GET", "/api/v1/nodes")), { decision: "no-opinion" });
    const user = { username: "alice", groups: ["system:nodes"] };
    assert.deepEqual(authz.authorize(user, req("GET", "/api/v1/nodes")), { decision: "no-opinion" });
    assert.equal(authz.authorize(node(""), req("GET", "/api/v1/nodes")).reason, 'unknown node for user "system:node:"');
  });

  it("takes back exactly what a pod gave when it moves, changes or goes", () => {
    const g = new NodeGraph();
    const a = new NodeAuthorizer(g);
    const get = (n: string, s: string) => a.authorize(node(n), req("GET", `/api/v1/namespaces/ns/secrets/${s}`)).decision;
    const vol = (s: string) => ({ volumes: [{ name: "v", secret: { secretName: s } }] });
    g.setPod(pod("ns", "a", "n1", vol("shared")));
    g.setPod(pod("ns", "b", "n1", vol("shared")));
    g.deletePod("ns/a");
    assert.equal(get("n1", "shared"), "allow", "b still uses it");
    g.setPod(pod("ns", "b", "n1", vol("changed")));
    assert.equal(get("n1", "shared"), "no-opinion");
    assert.equal(get("n1", "changed"), "allow");
    g.resetPods([pod("ns", "c", "n3", vol("changed"))]);
    assert.equal(get("n1", "changed"), "no-opinion");
    assert.equal(get("n3", "changed"), "allow");
  });
});

describe("createNodeAuthorizer", () => {
  it("fills its graph from the store and follows changes", async () => {
    const store = openMemoryStore();
    const podsRes = findResource("", "v1", "pods")!;
    const pvRes = findResource("", "v1", "persistentvolumes")!;
    const pods = new ObjectStore({ store, resource: podsRes, strategy: strategyFor(podsRes) });
    const pvs = new ObjectStore({ store, resource: pvRes, strategy: strategyFor(pvRes) });
    await pods.create("ns", pod("ns", "early", "n1", { volumes: [{ name: "v", secret: { secretName: "early" } }] }));
    const authz = createNodeAuthorizer({ pods, persistentVolumes: pvs });
    try {
      await authz.start();
      const get = (s: string) => authz.authorize(node("n1"), req("GET", `/api/v1/namespaces/ns/secrets/${s}`));
      assert.equal((await get("early")).decision, "allow");
      await pods.create("ns", pod("ns", "late", "n1", { volumes: [{ name: "v", secret: { secretName: "late" } }] }));
      await until(async () => (await get("late")).decision === "allow");
      await pods.delete("ns", "early", { gracePeriodSeconds: 0 });
      await until(async () => (await get("early")).decision === "no-opinion");
    } finally {
      authz.stop();
      await store.close();
    }
  });
});

async function until(cond: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail("condition never held");
}
