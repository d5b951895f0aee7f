/**
 * Fluent builders for test pods and nodes (upstream's pkg/scheduler/testing
 * st.MakePod()/st.MakeNode()). Only for tests.
 */
import type {
  Container,
  Node,
  NodeSelectorRequirement,
  Pod,
  PodAffinityTerm,
  PodCondition,
  Taint,
  Toleration,
  TopologySpreadConstraint,
  Volume,
} from "kubernetes-types/core/v1.js";
import type { LabelSelector } from "kubernetes-types/meta/v1.js";

type Quantities = Record<string, string>;

/** Whether an affinity term is required or preferred (st.PodAffinityKind). */
export type AffinityKind = "required" | "preferred";

export class PodWrapper {
  private readonly pod: Pod;
  private containerCount = 0;

  constructor(name: string) {
    this.pod = { apiVersion: "v1", kind: "Pod", metadata: { name, namespace: "default", uid: name }, spec: { containers: [] }, status: {} };
  }

  namespace(ns: string): this {
    this.pod.metadata!.namespace = ns;
    return this;
  }

  uid(uid: string): this {
    this.pod.metadata = { ...this.pod.metadata, uid };
    return this;
  }

  labels(labels: Record<string, string>): this {
    this.pod.metadata!.labels = { ...this.pod.metadata!.labels, ...labels };
    return this;
  }

  schedulerName(name: string): this {
    this.pod.spec!.schedulerName = name;
    return this;
  }

  node(name: string): this {
    this.pod.spec!.nodeName = name;
    return this;
  }

  nominatedNodeName(name: string): this {
    this.pod.status!.nominatedNodeName = name;
    return this;
  }

  priority(p: number): this {
    this.pod.spec!.priority = p;
    return this;
  }

  /** A container with these requests (and the given image). */
  req(requests: Quantities, image = "busybox"): this {
    this.pod.spec!.containers.push({ name: `c${this.containerCount++}`, image, resources: { requests } });
    return this;
  }

  container(c: Partial<Container> & { image?: string }): this {
    this.pod.spec!.containers.push({ name: `c${this.containerCount++}`, ...c });
    return this;
  }

  initReq(requests: Quantities, sidecar = false): this {
    const c: Container = { name: `i${this.containerCount++}`, image: "busybox", resources: { requests } };
    if (sidecar) c.restartPolicy = "Always";
    (this.pod.spec!.initContainers ??= []).push(c);
    return this;
  }

  overhead(q: Quantities): this {
    this.pod.spec!.overhead = q;
    return this;
  }

  hostPort(port: number, protocol = "TCP", hostIP = ""): this {
    const c: Container = { name: `p${this.containerCount++}`, image: "busybox", ports: [{ containerPort: port, hostPort: port, protocol, hostIP: hostIP || undefined }] };
    this.pod.spec!.containers.push(c);
    return this;
  }

  toleration(t: Toleration): this {
    (this.pod.spec!.tolerations ??= []).push(t);
    return this;
  }

  nodeSelector(sel: Record<string, string>): this {
    this.pod.spec!.nodeSelector = sel;
    return this;
  }

  /** A required node affinity term (terms are ORed). */
  nodeAffinityIn(key: string, values: string[]): this {
    return this.nodeAffinityTerm([{ key, operator: "In", values }]);
  }

  nodeAffinityTerm(matchExpressions: NodeSelectorRequirement[], matchFields?: NodeSelectorRequirement[]): this {
    const aff = (this.pod.spec!.affinity ??= {});
    const na = (aff.nodeAffinity ??= {});
    const req = (na.requiredDuringSchedulingIgnoredDuringExecution ??= { nodeSelectorTerms: [] });
    req.nodeSelectorTerms.push({ matchExpressions, matchFields });
    return this;
  }

  preferredNodeAffinity(weight: number, matchExpressions: NodeSelectorRequirement[]): this {
    const aff = (this.pod.spec!.affinity ??= {});
    const na = (aff.nodeAffinity ??= {});
    (na.preferredDuringSchedulingIgnoredDuringExecution ??= []).push({ weight, preference: { matchExpressions } });
    return this;
  }

  schedulingGates(names: string[]): this {
    this.pod.spec!.schedulingGates = names.map((name) => ({ name }));
    return this;
  }

  volume(v: Volume): this {
    (this.pod.spec!.volumes ??= []).push(v);
    return this;
  }

  pvc(claimName: string): this {
    return this.volume({ name: claimName, persistentVolumeClaim: { claimName } });
  }

  /** A generic ephemeral volume (its claim is named `<pod>-<volume>`). */
  ephemeralVolume(name: string): this {
    return this.volume({ name, ephemeral: { volumeClaimTemplate: { spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } } } });
  }

  /** A pod (anti-)affinity term; preferred terms get `weight` (default 1). */
  private affinityTerm(anti: boolean, kind: AffinityKind, term: PodAffinityTerm, weight = 1): this {
    const aff = (this.pod.spec!.affinity ??= {});
    const pa = anti ? (aff.podAntiAffinity ??= {}) : (aff.podAffinity ??= {});
    if (kind === "required") (pa.requiredDuringSchedulingIgnoredDuringExecution ??= []).push(term);
    else (pa.preferredDuringSchedulingIgnoredDuringExecution ??= []).push({ weight, podAffinityTerm: term });
    return this;
  }

  podAffinity(kind: AffinityKind, term: PodAffinityTerm, weight?: number): this {
    return this.affinityTerm(false, kind, term, weight);
  }

  podAntiAffinity(kind: AffinityKind, term: PodAffinityTerm, weight?: number): this {
    return this.affinityTerm(true, kind, term, weight);
  }

  /** st.PodAffinityExists: affinity to pods that have label `key`. */
  podAffinityExists(key: string, topologyKey: string, kind: AffinityKind = "required", weight?: number): this {
    return this.podAffinity(kind, { labelSelector: { matchExpressions: [{ key, operator: "Exists" }] }, topologyKey }, weight);
  }

  /** st.PodAffinityIn. */
  podAffinityIn(key: string, topologyKey: string, values: string[], kind: AffinityKind = "required", weight?: number): this {
    return this.podAffinity(kind, { labelSelector: { matchExpressions: [{ key, operator: "In", values }] }, topologyKey }, weight);
  }

  /** st.PodAntiAffinityExists. */
  podAntiAffinityExists(key: string, topologyKey: string, kind: AffinityKind = "required", weight?: number): this {
    return this.podAntiAffinity(kind, { labelSelector: { matchExpressions: [{ key, operator: "Exists" }] }, topologyKey }, weight);
  }

  /** st.PodAntiAffinityIn. */
  podAntiAffinityIn(key: string, topologyKey: string, values: string[], kind: AffinityKind = "required", weight?: number): this {
    return this.podAntiAffinity(kind, { labelSelector: { matchExpressions: [{ key, operator: "In", values }] }, topologyKey }, weight);
  }

  /** st.SpreadConstraint. */
  spreadConstraint(
    maxSkew: number,
    topologyKey: string,
    whenUnsatisfiable: "DoNotSchedule" | "ScheduleAnyway",
    labelSelector: LabelSelector | undefined,
    opts: { minDomains?: number; nodeAffinityPolicy?: string; nodeTaintsPolicy?: string; matchLabelKeys?: string[] } = {},
  ): this {
    const c: TopologySpreadConstraint = { maxSkew, topologyKey, whenUnsatisfiable, labelSelector, ...opts };
    (this.pod.spec!.topologySpreadConstraints ??= []).push(c);
    return this;
  }

  preemptionPolicy(p: "Never" | "PreemptLowerPriority"): this {
    this.pod.spec!.preemptionPolicy = p;
    return this;
  }

  /** status.startTime (RFC 3339). */
  startTime(t: string): this {
    this.pod.status!.startTime = t;
    return this;
  }

  /** Marks the pod terminating (deletionTimestamp set). */
  terminating(at = "2026-01-01T00:00:00Z"): this {
    this.pod.metadata = { ...this.pod.metadata, deletionTimestamp: at };
    return this;
  }

  condition(c: PodCondition): this {
    (this.pod.status!.conditions ??= []).push(c);
    return this;
  }

  /** A controller owner reference. */
  ownerReference(kind: string, name: string, apiVersion = "apps/v1", uid = `${name}-uid`): this {
    this.pod.metadata!.ownerReferences = [{ apiVersion, kind, name, uid, controller: true }];
    return this;
  }

  schedulingGate(name: string): this {
    (this.pod.spec!.schedulingGates ??= []).push({ name });
    return this;
  }

  obj(): Pod {
    return structuredClone(this.pod);
  }
}

export class NodeWrapper {
  private readonly node: Node;

  constructor(name: string) {
    this.node = { apiVersion: "v1", kind: "Node", metadata: { name, uid: name, labels: { "kubernetes.io/hostname": name } }, spec: {}, status: {} };
  }

  labels(labels: Record<string, string>): this {
    this.node.metadata!.labels = { ...this.node.metadata!.labels, ...labels };
    return this;
  }

  /** Sets allocatable (and capacity); pods defaults to 110 when not given. */
  capacity(q: Quantities): this {
    const withPods = { pods: "110", ...q };
    this.node.status!.allocatable = withPods;
    this.node.status!.capacity = withPods;
    return this;
  }

  taints(taints: Taint[]): this {
    this.node.spec!.taints = taints;
    return this;
  }

  unschedulable(u = true): this {
    this.node.spec!.unschedulable = u;
    return this;
  }

  images(images: Record<string, number>): this {
    this.node.status!.images = Object.entries(images).map(([name, sizeBytes]) => ({ names: [name], sizeBytes }));
    return this;
  }

  obj(): Node {
    return structuredClone(this.node);
  }
}

export const makePod = (name: string): PodWrapper => new PodWrapper(name);
export const makeNode = (name: string): NodeWrapper => new NodeWrapper(name);
