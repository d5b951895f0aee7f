/** Objects for the unit tests of this controller, shaped as upstream's test helpers (newReplicaSet, newPod). */
import type { ReplicaSet } from "kubernetes-types/apps/v1.js";
import type { Pod } from "kubernetes-types/core/v1.js";

let uids = 0;

/** Upstream's `newReplicaSet(replicas, selectorMap)`: `default/foobar` with a template labelled name=foo,type=production. */
export function newReplicaSet(replicas: number, selector: Record<string, string>, name = "foobar"): ReplicaSet {
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: { uid: `rs-${++uids}`, name, namespace: "default", resourceVersion: "18", generation: 1 },
    spec: {
      replicas,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: { name: "foo", type: "production" } },
        spec: { containers: [{ name: "c", image: "foo/bar" }], restartPolicy: "Always", nodeSelector: { baz: "blah" } },
      },
    },
  };
}

/** Upstream's `newPod`: labelled with the selector, Running pods Ready; owned through a controllerRef when `owned`. */
export function newPod(name: string, rs: ReplicaSet, phase: string, owned: boolean, lastTransitionTime?: string): Pod {
  return {
    metadata: {
      uid: `pod-${++uids}`,
      name,
      namespace: rs.metadata?.namespace,
      labels: { ...rs.spec?.selector.matchLabels },
      ...(owned
        ? { ownerReferences: [{ uid: rs.metadata!.uid!, apiVersion: "apps/v1", kind: "ReplicaSet", name: rs.metadata!.name!, controller: true }] }
        : {}),
    },
    spec: { containers: [{ name: "c", image: "foo/bar" }] },
    status: {
      phase,
      ...(phase === "Running" ? { conditions: [{ type: "Ready", status: "True", ...(lastTransitionTime ? { lastTransitionTime } : {}) }] } : {}),
    },
  };
}
