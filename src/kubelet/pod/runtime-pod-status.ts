/**
 * What the runtime knows about one pod, gathered from sandboxes and
 * containers by the pod-UID label (upstream's kubecontainer.PodStatus, as
 * kuberuntime's GetPodStatus builds it): newest sandbox and containers
 * first, restart counts read back from the annotation set at creation.
 */
import type { ContainerRuntime, ContainerState, PodSandboxStatus, RuntimeResult } from "../../runtime/types.js";
import { CONTAINER_NAME_LABEL, CONTAINER_RESTART_COUNT_ANNOTATION, POD_UID_LABEL } from "../runtime-labels.js";

/** One container instance as the kubelet sees it. */
export interface RuntimeContainer {
  readonly id: string;
  readonly podSandboxId: string;
  readonly name: string;
  readonly state: ContainerState;
  readonly createdAt: number;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly exitCode: number;
  readonly reason: string;
  readonly message: string;
  readonly image: string;
  readonly imageRef: string;
  readonly restartCount: number;
}

/** Everything the runtime holds for one pod. */
export interface RuntimePodStatus {
  readonly uid: string;
  /** Newest first. */
  readonly sandboxes: readonly PodSandboxStatus[];
  /** Every container instance (current and dead), newest first. */
  readonly containers: readonly RuntimeContainer[];
  /** IPs of the newest sandbox while it is ready; empty otherwise. */
  readonly ips: readonly string[];
}

/** An empty status: nothing created yet. */
export function emptyPodStatus(uid: string): RuntimePodStatus {
  return { uid, sandboxes: [], containers: [], ips: [] };
}

/** The newest instance of container `name`, as upstream's FindContainerStatusByName. */
export function latestContainer(status: RuntimePodStatus, name: string): RuntimeContainer | undefined {
  for (const c of status.containers) if (c.name === name) return c;
  return undefined;
}

/** Reads the pod's sandboxes and containers from the runtime. */
export async function getPodStatus(runtime: ContainerRuntime, uid: string): Promise<RuntimeResult<RuntimePodStatus>> {
  const selector = { [POD_UID_LABEL]: uid };
  const sbList = await runtime.listPodSandbox({ labelSelector: selector });
  if (!sbList.ok) return sbList;
  const sandboxes: PodSandboxStatus[] = [];
  for (const sb of sbList.value) {
    const st = await runtime.podSandboxStatus(sb.id);
    if (st.ok) sandboxes.push(st.value);
  }
  sandboxes.sort((a, b) => b.createdAt - a.createdAt || b.metadata.attempt - a.metadata.attempt);
  const cList = await runtime.listContainers({ labelSelector: selector });
  if (!cList.ok) return cList;
  const containers: RuntimeContainer[] = [];
  for (const c of cList.value) {
    const st = await runtime.containerStatus(c.id);
    if (!st.ok) continue; // removed in between
    const s = st.value;
    containers.push({
      id: s.id,
      podSandboxId: s.podSandboxId,
      name: s.labels[CONTAINER_NAME_LABEL] ?? s.metadata.name,
      state: s.state,
      createdAt: s.createdAt,
      startedAt: s.startedAt,
      finishedAt: s.finishedAt,
      exitCode: s.exitCode,
      reason: s.reason,
      message: s.message,
      image: s.image,
      imageRef: s.imageRef,
      restartCount: Number(s.annotations[CONTAINER_RESTART_COUNT_ANNOTATION] ?? s.metadata.attempt) || 0,
    });
  }
  // Newest first; the restart count breaks ties within one millisecond.
  containers.sort((a, b) => b.createdAt - a.createdAt || b.restartCount - a.restartCount);
  const latest = sandboxes[0];
  return { ok: true, value: { uid, sandboxes, containers, ips: latest && latest.state === "ready" ? [...latest.ips] : [] } };
}
