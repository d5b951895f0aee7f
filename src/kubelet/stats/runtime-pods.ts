/**
 * The pods and containers a stats document covers, from the runtime as
 * upstream's CRI stats provider picks them: per pod UID the newest
 * sandbox, only while it is ready (removeTerminatedPods), and per
 * container name the newest instance, only while it runs
 * (removeTerminatedContainers). Exited containers have no cgroup left to
 * read and would only show stale figures.
 */
import type { ContainerRuntime } from "../../runtime/types.js";
import { formatRuntimeError } from "../../runtime/types.js";

/** A running container of a pod. */
export interface RuntimeContainer {
  readonly id: string;
  readonly name: string;
  /** Epoch ms (CRI CreatedAt: the container's startTime in the Summary API). */
  readonly createdAt: number;
}

/** A pod with a ready sandbox. */
export interface RuntimePod {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly sandboxId: string;
  /** Epoch ms (the pod's startTime in the Summary API). */
  readonly createdAt: number;
  /** Sorted by name. */
  readonly containers: readonly RuntimeContainer[];
}

/** Lists the pods with their running containers; throws the runtime's error text when it cannot list. */
export async function listRuntimePods(runtime: ContainerRuntime): Promise<RuntimePod[]> {
  const [sandboxes, containers] = await Promise.all([runtime.listPodSandbox(), runtime.listContainers()]);
  if (!sandboxes.ok) throw new Error(`failed to list pod sandboxes: ${formatRuntimeError(sandboxes.error)}`);
  if (!containers.ok) throw new Error(`failed to list containers: ${formatRuntimeError(containers.error)}`);
  const newest = new Map<string, (typeof sandboxes.value)[number]>();
  for (const sb of sandboxes.value) {
    const cur = newest.get(sb.metadata.uid);
    if (!cur || sb.createdAt > cur.createdAt) newest.set(sb.metadata.uid, sb);
  }
  const bySandbox = new Map<string, Map<string, RuntimeContainer & { running: boolean }>>();
  for (const c of containers.value) {
    const names = bySandbox.get(c.podSandboxId) ?? new Map<string, RuntimeContainer & { running: boolean }>();
    bySandbox.set(c.podSandboxId, names);
    const cur = names.get(c.metadata.name);
    if (!cur || c.createdAt > cur.createdAt) names.set(c.metadata.name, { id: c.id, name: c.metadata.name, createdAt: c.createdAt, running: c.state === "running" });
  }
  const out: RuntimePod[] = [];
  for (const sb of newest.values()) {
    if (sb.state !== "ready") continue;
    const cs = [...(bySandbox.get(sb.id)?.values() ?? [])]
      .filter((c) => c.running)
      .map(({ id, name, createdAt }) => ({ id, name, createdAt }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    out.push({ uid: sb.metadata.uid, name: sb.metadata.name, namespace: sb.metadata.namespace, sandboxId: sb.id, createdAt: sb.createdAt, containers: cs });
  }
  return out.sort((a, b) => (a.namespace + "/" + a.name < b.namespace + "/" + b.name ? -1 : 1));
}
