/**
 * NodeRestriction, as upstream's plugin/pkg/admission/noderestriction: a
 * kubelet (`system:node:NAME`) may only modify its own Node (not its taints,
 * nor labels outside the kubelet's own set), only create mirror pods bound
 * to itself, only update the status of and evict pods bound to itself, only
 * request tokens bound to its own pods, only touch its own Lease, and only
 * update the status of claims. Other users pass untouched.
 */
import { isDeepStrictEqual } from "node:util";
import { badRequest, forbidden, type StatusError } from "../../machinery/status-error.js";
import { nodeIdentity } from "../auth/node/node-identity.js";
import { podReferences } from "../auth/node/pod-refs.js";
import type { KObject } from "../registry/types.js";
import type { AdmissionAttributes, AdmissionPlugin } from "./admission.js";

export const MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror";
const NAMESPACE_NODE_LEASE = "kube-node-lease";

/** Reads one object by namespace and name; NotFound rejects with the StatusError (an ObjectStore or ObjectCache). */
export interface ObjectGetter {
  get(ns: string | undefined, name: string): Promise<KObject>;
}

export interface NodeRestrictionOptions {
  readonly pods: ObjectGetter;
  readonly nodes: ObjectGetter;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const specOf = (o: KObject | undefined): Obj => (o && isObj(o.spec) ? o.spec : {});

/**
 * Upstream's admission.NewForbidden: `<resource>[.<group>] "<name>" is
 * forbidden: <why>`, the name read from the request's object (its
 * generateName before one is made) and "Unknown" without one, as a delete.
 */
function denied(a: AdmissionAttributes, why: string): StatusError {
  const name = a.object?.metadata?.name || a.object?.metadata?.generateName || "Unknown";
  const gr = a.resource.group ? `${a.resource.plural}.${a.resource.group}` : a.resource.plural;
  return forbidden(`${gr} "${name}" is forbidden: ${why}`, { name, ...(a.resource.group ? { group: a.resource.group } : {}), kind: a.resource.plural });
}

/** Kubelet label rules (k8s.io/kubelet/pkg/apis IsKubeletLabel). */
const KUBELET_LABELS = new Set([
  "kubernetes.io/hostname",
  "topology.kubernetes.io/zone",
  "topology.kubernetes.io/region",
  "failure-domain.beta.kubernetes.io/zone",
  "failure-domain.beta.kubernetes.io/region",
  "beta.kubernetes.io/instance-type",
  "node.kubernetes.io/instance-type",
  "kubernetes.io/os",
  "kubernetes.io/arch",
  "beta.kubernetes.io/os",
  "beta.kubernetes.io/arch",
]);
const KUBELET_LABEL_NAMESPACES = ["kubelet.kubernetes.io", "node.kubernetes.io"];
const NODE_RESTRICTION_NAMESPACE = "node-restriction.kubernetes.io";

const labelNamespace = (key: string) => {
  const i = key.indexOf("/");
  return i >= 0 ? key.slice(0, i) : "";
};
const inNamespace = (ns: string, allowed: string) => ns === allowed || ns.endsWith(`.${allowed}`);

export function isKubeletLabel(key: string): boolean {
  if (KUBELET_LABELS.has(key)) return true;
  const ns = labelNamespace(key);
  return KUBELET_LABEL_NAMESPACES.some((a) => inNamespace(ns, a));
}

function isKubernetesLabel(key: string): boolean {
  const ns = labelNamespace(key);
  return inNamespace(ns, "kubernetes.io") || inNamespace(ns, "k8s.io");
}

/** Labels added, removed or changed between `old` and `next`. */
function modifiedLabels(next: Readonly<Record<string, string>>, old: Readonly<Record<string, string>>): string[] {
  const keys = new Set([...Object.keys(next), ...Object.keys(old)]);
  return [...keys].filter((k) => next[k] !== old[k]);
}

/** The labels of `modified` a node may not set, sorted (upstream's sets.String.List()). */
export function forbiddenNodeLabels(modified: readonly string[]): string[] {
  const out = new Set<string>();
  for (const label of modified) {
    if (inNamespace(labelNamespace(label), NODE_RESTRICTION_NAMESPACE)) out.add(label);
    if (isKubernetesLabel(label) && !isKubeletLabel(label)) out.add(label);
  }
  return [...out].sort();
}

export function nodeRestriction(opts: NodeRestrictionOptions): AdmissionPlugin {
  return {
    name: "NodeRestriction",
    async validate(a) {
      const nodeName = nodeIdentity(a.user);
      if (nodeName === undefined) return;
      if (nodeName === "") throw denied(a, `could not determine node from user "${a.user.username}"`);
      const gr = `${a.resource.group}/${a.resource.plural}`;
      switch (gr) {
        case "/pods":
          if (a.subresource === "") return admitPod(nodeName, a);
          if (a.subresource === "status") return admitPodStatus(nodeName, a);
          if (a.subresource === "eviction") return admitPodEviction(nodeName, a, opts.pods);
          throw denied(a, `unexpected pod subresource "${a.subresource}", only 'status' and 'eviction' are allowed`);
        case "/nodes":
          return admitNode(nodeName, a);
        case "/persistentvolumeclaims":
          if (a.subresource === "status") return admitPVCStatus(nodeName, a);
          throw denied(a, "may only update PVC status");
        case "/serviceaccounts":
          return admitServiceAccount(nodeName, a, opts.pods);
        case "coordination.k8s.io/leases":
          return admitLease(nodeName, a);
      }
    },
  };

  async function admitPod(nodeName: string, a: AdmissionAttributes): Promise<void> {
    if (a.operation === "CREATE") return admitPodCreate(nodeName, a);
    if (a.operation === "DELETE") {
      // The chain hands DELETE the stored pod; upstream reads the same from its lister.
      const existing = a.oldObject ?? (await opts.pods.get(a.namespace, a.name));
      if (specOf(existing).nodeName !== nodeName) throw denied(a, `node "${nodeName}" can only delete pods with spec.nodeName set to itself`);
      return;
    }
    throw denied(a, `unexpected operation "${a.operation}", node "${nodeName}" can only create and delete mirror pods`);
  }

  async function admitPodCreate(nodeName: string, a: AdmissionAttributes): Promise<void> {
    const pod = a.object ?? {};
    const annotations = pod.metadata?.annotations ?? {};
    if (!(MIRROR_POD_ANNOTATION in annotations)) {
      throw denied(a, `pod does not have "${MIRROR_POD_ANNOTATION}" annotation, node "${nodeName}" can only create mirror pods`);
    }
    const spec = specOf(pod);
    if (spec.nodeName !== nodeName) throw denied(a, `node "${nodeName}" can only create pods with spec.nodeName set to itself`);
    const owners = pod.metadata?.ownerReferences ?? [];
    if (owners.length > 1) throw denied(a, `node "${nodeName}" can only create pods with a single owner reference set to itself`);
    if (owners.length === 0) throw denied(a, `node "${nodeName}" can only create pods with an owner reference set to itself`);
    const owner = owners[0]!;
    if (owner.apiVersion !== "v1" || owner.kind !== "Node" || owner.name !== nodeName) {
      throw denied(a, `node "${nodeName}" can only create pods with an owner reference set to itself`);
    }
    if (owner.controller !== true) throw denied(a, `node "${nodeName}" can only create pods with a controller owner reference set to itself`);
    if (owner.blockOwnerDeletion === true) throw denied(a, `node "${nodeName}" must not set blockOwnerDeletion on an owner reference`);
    let node: KObject;
    try {
      node = await opts.nodes.get(undefined, nodeName);
    } catch (err) {
      if ((err as { reason?: string }).reason === "NotFound") throw err;
      throw denied(a, `error looking up node ${nodeName} to verify uid: ${(err as Error).message}`);
    }
    if (owner.uid !== node.metadata?.uid) throw denied(a, `node ${nodeName} UID mismatch: expected ${node.metadata?.uid ?? ""} got ${owner.uid}`);
    if (typeof spec.serviceAccountName === "string" && spec.serviceAccountName !== "") {
      throw denied(a, `node "${nodeName}" can not create pods that reference a service account`);
    }
    const refs = [...podReferences({ metadata: pod.metadata, spec: { ...spec, serviceAccountName: undefined } })];
    if (refs.some((r) => r.startsWith("secret/"))) throw denied(a, `node "${nodeName}" can not create pods that reference secrets`);
    if (refs.some((r) => r.startsWith("configmap/"))) throw denied(a, `node "${nodeName}" can not create pods that reference configmaps`);
    const volumes = Array.isArray(spec.volumes) ? spec.volumes.filter(isObj) : [];
    for (const v of volumes) {
      const sources = isObj(v.projected) && Array.isArray(v.projected.sources) ? v.projected.sources.filter(isObj) : [];
      if (sources.some((s) => s.clusterTrustBundle !== undefined)) throw denied(a, `node "${nodeName}" can not create pods that use clustertrustbundles`);
    }
    if (volumes.some((v) => v.persistentVolumeClaim !== undefined)) {
      throw denied(a, `node "${nodeName}" can not create pods that reference persistentvolumeclaims`);
    }
    if (Array.isArray(spec.resourceClaims) && spec.resourceClaims.length > 0) {
      throw denied(a, `node "${nodeName}" can not create pods that reference resourceclaims`);
    }
  }

  function admitPodStatus(nodeName: string, a: AdmissionAttributes): void {
    if (a.operation !== "UPDATE") throw denied(a, `unexpected operation "${a.operation}"`);
    if (specOf(a.oldObject).nodeName !== nodeName) {
      throw denied(a, `node "${nodeName}" can only update pod status for pods with spec.nodeName set to itself`);
    }
    if (!isDeepStrictEqual(a.oldObject?.metadata?.labels ?? {}, a.object?.metadata?.labels ?? {})) {
      throw denied(a, `node "${nodeName}" cannot update labels through pod status`);
    }
  }

  async function admitPodEviction(nodeName: string, a: AdmissionAttributes, pods: ObjectGetter): Promise<void> {
    if (a.operation !== "CREATE") throw denied(a, `unexpected operation ${a.operation}`);
    // The pod named in the URL wins over the Eviction's own name, as upstream.
    const podName = a.name || a.object?.metadata?.name || "";
    if (!podName) throw badRequest("could not determine pod from request data");
    const existing = await pods.get(a.namespace, podName);
    if (specOf(existing).nodeName !== nodeName) throw denied(a, `node ${nodeName} can only evict pods with spec.nodeName set to itself`);
  }

  function admitNode(nodeName: string, a: AdmissionAttributes): void {
    const requested = a.name || a.object?.metadata?.name || "";
    if (requested !== nodeName) throw denied(a, `node "${nodeName}" is not allowed to modify node "${requested}"`);
    const spec = specOf(a.object);
    if (a.operation === "CREATE") {
      if (spec.configSource != null) throw denied(a, `node "${nodeName}" is not allowed to create pods with a non-nil configSource`);
      const bad = forbiddenNodeLabels(modifiedLabels(a.object?.metadata?.labels ?? {}, {}));
      if (bad.length > 0) throw denied(a, `node "${nodeName}" is not allowed to set the following labels: ${bad.join(", ")}`);
    }
    if (a.operation === "UPDATE") {
      const old = specOf(a.oldObject);
      if (spec.configSource != null && !isDeepStrictEqual(spec.configSource, old.configSource)) {
        throw denied(a, `node "${nodeName}" is not allowed to update configSource to a new non-nil configSource`);
      }
      if (!isDeepStrictEqual(emptyAsNone(spec.taints), emptyAsNone(old.taints))) throw denied(a, `node "${nodeName}" is not allowed to modify taints`);
      const bad = forbiddenNodeLabels(modifiedLabels(a.object?.metadata?.labels ?? {}, a.oldObject?.metadata?.labels ?? {}));
      if (bad.length > 0) throw denied(a, `is not allowed to modify labels: ${bad.join(", ")}`);
    }
  }

  function admitPVCStatus(nodeName: string, a: AdmissionAttributes): void {
    if (a.operation !== "UPDATE") throw denied(a, `unexpected operation "${a.operation}"`);
    const strip = (o: KObject | undefined): KObject => {
      const c = structuredClone(o ?? {});
      if (c.metadata) {
        delete c.metadata.resourceVersion;
        delete c.metadata.managedFields;
      }
      if (isObj(c.status)) {
        for (const k of ["capacity", "conditions", "allocatedResourceStatuses", "allocatedResources"]) delete c.status[k];
      }
      return c;
    };
    const oldPVC = strip(a.oldObject);
    const newPVC = strip(a.object);
    if (!isDeepStrictEqual(oldPVC, newPVC)) {
      throw denied(a, `node "${nodeName}" is not allowed to update fields other than status.capacity and status.conditions: ${describeDiff(oldPVC, newPVC)}`);
    }
  }

  async function admitServiceAccount(nodeName: string, a: AdmissionAttributes, pods: ObjectGetter): Promise<void> {
    if (a.operation !== "CREATE" || a.subresource !== "token") return;
    const spec = specOf(a.object);
    const ref = isObj(spec.boundObjectRef) ? spec.boundObjectRef : undefined;
    if (ref?.apiVersion !== "v1" || ref.kind !== "Pod" || !ref.name) throw denied(a, "node requested token not bound to a pod");
    if (!ref.uid) throw denied(a, "node requested token with a pod binding without a uid");
    const pod = await pods.get(a.namespace, String(ref.name));
    if (ref.uid !== pod.metadata?.uid) {
      throw denied(
        a,
        `the UID in the bound object reference (${String(ref.uid)}) does not match the UID in record. The object might have been deleted and then recreated`,
      );
    }
    if (specOf(pod).nodeName !== nodeName) throw denied(a, "node requested token bound to a pod scheduled on a different node");
  }

  function admitLease(nodeName: string, a: AdmissionAttributes): void {
    if (a.namespace !== NAMESPACE_NODE_LEASE) throw denied(a, `can only access leases in the "${NAMESPACE_NODE_LEASE}" system namespace`);
    const name = a.operation === "CREATE" ? (a.object?.metadata?.name ?? "") : a.name;
    if (name !== nodeName) throw denied(a, "can only access node lease with the same name as the requesting node");
  }
}

/** Upstream compares taints semantically: nil and [] are the same. */
const emptyAsNone = (v: unknown) => (Array.isArray(v) && v.length === 0 ? undefined : v);

/** The top-level fields that differ, as a short stand-in for upstream's cmp.Diff. */
function describeDiff(a: KObject, b: KObject): string {
  const out: string[] = [];
  for (const top of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = (a as Obj)[top];
    const y = (b as Obj)[top];
    if (isObj(x) && isObj(y)) {
      for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) if (!isDeepStrictEqual(x[k], y[k])) out.push(`${top}.${k}`);
    } else if (!isDeepStrictEqual(x, y)) out.push(top);
  }
  return `changed: ${out.join(", ")}`;
}
