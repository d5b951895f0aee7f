/**
 * The Node object a kubelet registers and the status it reports, as
 * upstream's kubelet_node_status.go and nodestatus setters: capacity and
 * allocatable, addresses, daemon endpoints, nodeInfo, images, and the
 * MemoryPressure/DiskPressure/PIDPressure/Ready conditions with upstream's
 * reasons and messages. Pure: the caller supplies what it observed.
 */
import { isDeepStrictEqual } from "node:util";
import type { ContainerImage, Node, NodeCondition, NodeStatus } from "kubernetes-types/core/v1.js";
import type { Image } from "../../runtime/types.js";
import { rfc3339 } from "../status/generate.js";

/** What a node status is made of. */
export interface NodeFacts {
  readonly nodeName: string;
  readonly nodeIP: string;
  readonly capacity: Readonly<Record<string, string>>;
  readonly allocatable: Readonly<Record<string, string>>;
  /** e.g. `v1.30.14+skiff`. */
  readonly kubeletVersion: string;
  /** e.g. `sim://0.1.0`. */
  readonly containerRuntimeVersion: string;
  /** Empty when the runtime is ready; else why not (the Ready condition's message). */
  readonly runtimeNotReady: string;
  readonly images: readonly Image[];
  readonly kubeletPort: number;
  readonly machineId: string;
  readonly systemUuid: string;
  readonly bootId: string;
  readonly kernelVersion: string;
  readonly osImage: string;
  readonly operatingSystem: string;
  readonly architecture: string;
  /** Pressure conditions that hold (none for simulated nodes). */
  readonly pressure?: { readonly memory: boolean; readonly disk: boolean; readonly pid: boolean };
}

/** Upstream's node image list cap (nodeStatusMaxImages). */
const MAX_IMAGES = 50;

/** Labels the kubelet sets on its Node (upstream's well-known node labels). */
export function nodeLabels(f: NodeFacts): Record<string, string> {
  return {
    "beta.kubernetes.io/arch": f.architecture,
    "beta.kubernetes.io/os": f.operatingSystem,
    "kubernetes.io/arch": f.architecture,
    "kubernetes.io/hostname": f.nodeName,
    "kubernetes.io/os": f.operatingSystem,
  };
}

/** The Node a kubelet creates at registration (upstream initialNode). */
export function initialNode(f: NodeFacts, now: number, extraLabels: Readonly<Record<string, string>> = {}): Node {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: f.nodeName,
      labels: { ...nodeLabels(f), ...extraLabels },
      annotations: { "volumes.kubernetes.io/controller-managed-attach-detach": "true" },
    },
    spec: {},
    status: buildNodeStatus(undefined, f, now),
  };
}

function cond(type: string, status: "True" | "False", reason: string, message: string, prev: NodeCondition | undefined, now: string): NodeCondition {
  const lastTransitionTime = prev && prev.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : now;
  return { type, status, lastHeartbeatTime: now, lastTransitionTime, reason, message };
}

/** The node's status now, keeping transition times of unchanged conditions from `prev`. */
export function buildNodeStatus(prev: NodeStatus | undefined, f: NodeFacts, nowMs: number): NodeStatus {
  const now = rfc3339(nowMs);
  const p = (type: string) => prev?.conditions?.find((c) => c.type === type);
  const ready = f.runtimeNotReady === "";
  const conditions: NodeCondition[] = [
    f.pressure?.memory
      ? cond("MemoryPressure", "True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available", p("MemoryPressure"), now)
      : cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available", p("MemoryPressure"), now),
    f.pressure?.disk
      ? cond("DiskPressure", "True", "KubeletHasDiskPressure", "kubelet has disk pressure", p("DiskPressure"), now)
      : cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", p("DiskPressure"), now),
    f.pressure?.pid
      ? cond("PIDPressure", "True", "KubeletHasInsufficientPID", "kubelet has insufficient PID available", p("PIDPressure"), now)
      : cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available", p("PIDPressure"), now),
    ready
      ? cond("Ready", "True", "KubeletReady", "kubelet is posting ready status", p("Ready"), now)
      : cond("Ready", "False", "KubeletNotReady", f.runtimeNotReady, p("Ready"), now),
  ];
  const images: ContainerImage[] = [...f.images]
    .sort((a, b) => b.size - a.size)
    .slice(0, MAX_IMAGES)
    .map((i) => ({ names: [...i.repoDigests, ...i.repoTags], sizeBytes: i.size }));
  return {
    capacity: { ...f.capacity },
    allocatable: { ...f.allocatable },
    conditions,
    addresses: [
      { type: "InternalIP", address: f.nodeIP },
      { type: "Hostname", address: f.nodeName },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: f.kubeletPort } },
    nodeInfo: {
      machineID: f.machineId,
      systemUUID: f.systemUuid,
      bootID: f.bootId,
      kernelVersion: f.kernelVersion,
      osImage: f.osImage,
      containerRuntimeVersion: f.containerRuntimeVersion,
      kubeletVersion: f.kubeletVersion,
      kubeProxyVersion: f.kubeletVersion,
      operatingSystem: f.operatingSystem,
      architecture: f.architecture,
    },
    ...(images.length > 0 ? { images } : {}),
  };
}

function withoutHeartbeats(s: NodeStatus | undefined): NodeStatus | undefined {
  if (!s) return s;
  return { ...s, conditions: (s.conditions ?? []).map(({ lastHeartbeatTime: _h, ...rest }) => rest) };
}

/** upstream nodeStatusHasChanged: anything but the heartbeat times differs. */
export function nodeStatusChanged(a: NodeStatus | undefined, b: NodeStatus | undefined): boolean {
  return !isDeepStrictEqual(withoutHeartbeats(a), withoutHeartbeats(b));
}
