/**
 * Upstream's small predicates about containers (kubecontainer helpers and
 * pod utils) that both the sync loop and the status computation use.
 */
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import { latestContainer, type RuntimePodStatus } from "./runtime-pod-status.js";

/** A sidecar: an init container with `restartPolicy: Always`. */
export function isRestartableInit(c: Container | undefined): boolean {
  return c?.restartPolicy === "Always";
}

/**
 * upstream ShouldContainerBeRestarted: whether the kubelet should (re)start
 * `container` now, by the pod's restartPolicy and its latest instance.
 */
export function shouldContainerBeRestarted(container: Container, pod: Pod, status: RuntimePodStatus): boolean {
  if (pod.metadata?.deletionTimestamp) return false;
  const latest = latestContainer(status, container.name);
  if (!latest) return true;
  if (latest.state === "running") return false;
  if (latest.state === "unknown" || latest.state === "created") return true;
  const policy = pod.spec?.restartPolicy ?? "Always";
  if (policy === "Never") return false;
  if (policy === "OnFailure" && latest.exitCode === 0) return false;
  return true;
}

/** The container spec named `name` among init (then regular) containers, with which list it is in. */
export function containerSpec(pod: Pod, name: string): { container: Container; init: boolean } | undefined {
  for (const c of pod.spec?.initContainers ?? []) if (c.name === name) return { container: c, init: true };
  for (const c of pod.spec?.containers ?? []) if (c.name === name) return { container: c, init: false };
  return undefined;
}
