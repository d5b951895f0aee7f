/**
 * One container's logs for `kubectl logs`, as upstream's kubelet does it
 * (GetKubeletContainerLogs → validateContainerLogStatus → the runtime's
 * ContainerStatus.logPath → ReadLogs): the pod's status names the container
 * instance (the current one, or with `previous` the last terminated one,
 * which the runtime keeps until the next restart), and its state decides the
 * errors users see, worded as upstream's.
 */
import { isAbsolute, join } from "node:path";
import type { ContainerStatus as ApiContainerStatus, Pod, PodStatus } from "kubernetes-types/core/v1.js";
import type { PodLogOptions } from "../../apiserver/kubelet/pod-log-options.js";
import type { Logger } from "../../machinery/log.js";
import type { ContainerRuntime } from "../../runtime/types.js";
import { type LogSink, readLogs, readLogsOptions, type ReadLogsResult } from "./read-logs.js";

/** Where pod log directories live (`<dir>/<ns>_<name>_<uid>`), as the kubelet's sandbox config puts them. */
export const DEFAULT_POD_LOGS_DIR = "/var/log/pods";

/** A container id as the API shows it: `type://id`. */
export interface ParsedContainerId {
  readonly type: string;
  readonly id: string;
}

/** Upstream's ContainerID.ParseString. */
export function parseContainerId(s: string): ParsedContainerId | string {
  const parts = s.replace(/^"|"$/g, "").split("://");
  if (parts.length !== 2) return `invalid container ID: ${JSON.stringify(s)}`;
  return { type: parts[0]!, id: parts[1]! };
}

function findStatus(list: readonly ApiContainerStatus[] | undefined, name: string): ApiContainerStatus | undefined {
  return list?.find((s) => s.name === name);
}

/**
 * Upstream's validateContainerLogStatus: the `type://id` of the instance
 * whose log to read, or the error to show.
 */
export function containerIdForLogs(podName: string, status: PodStatus | undefined, containerName: string, previous: boolean): { id: string } | { error: string } {
  const cs =
    findStatus(status?.containerStatuses, containerName) ??
    findStatus(status?.initContainerStatuses, containerName) ??
    findStatus(status?.ephemeralContainerStatuses, containerName);
  const c = JSON.stringify(containerName);
  const p = JSON.stringify(podName);
  if (!cs) return { error: `container ${c} in pod ${p} is not available` };
  const last = cs.lastState?.terminated;
  const { waiting, running, terminated } = cs.state ?? {};
  if (previous) {
    if (!last?.containerID) return { error: `previous terminated container ${c} in pod ${p} not found` };
    return { id: last.containerID };
  }
  if (running) return { id: cs.containerID ?? "" };
  if (terminated) {
    // The next instance did not start: the terminated state may carry no id; the last one has it.
    if (terminated.containerID) return { id: terminated.containerID };
    if (last?.containerID) return { id: last.containerID };
    return { error: `container ${c} in pod ${p} is terminated` };
  }
  if (last) {
    if (!last.containerID) return { error: `container ${c} in pod ${p} is terminated` };
    return { id: last.containerID };
  }
  if (waiting) {
    switch (waiting.reason) {
      case "ErrImagePull":
        return { error: `container ${c} in pod ${p} is waiting to start: image can't be pulled` };
      case "ImagePullBackOff":
        return { error: `container ${c} in pod ${p} is waiting to start: trying and failing to pull image` };
      default:
        return { error: `container ${c} in pod ${p} is waiting to start: ${waiting.reason ?? ""}` };
    }
  }
  return { error: `container ${c} in pod ${p} is waiting to start - no logs yet` };
}

/** Whether `pod` has a container (regular, init or ephemeral) named `name` (upstream's GetContainerSpec). */
export function podHasContainer(pod: Pod, name: string): boolean {
  const s = pod.spec;
  return !!(s?.containers?.some((c) => c.name === name) || s?.initContainers?.some((c) => c.name === name) || s?.ephemeralContainers?.some((c) => c.name === name));
}

/** What {@link containerLogs} needs. */
export interface ContainerLogsParams {
  /** The pod, with the freshest status the kubelet has. */
  readonly pod: Pod;
  readonly containerName: string;
  readonly options: PodLogOptions;
  readonly runtime: Pick<ContainerRuntime, "containerStatus">;
  readonly sink: LogSink;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  /** Epoch ms "now" for sinceSeconds. */
  readonly nowMs: number;
  /** Resolves a runtime's relative log path ({@link DEFAULT_POD_LOGS_DIR}). */
  readonly podLogsDir?: string;
  /** Follow's poll interval (1 s). */
  readonly pollIntervalMs?: number;
}

/**
 * Streams one container's log into the sink. Errors come back as values,
 * worded as upstream's kubelet words them (the server answers them 400).
 */
export async function containerLogs(p: ContainerLogsParams): Promise<ReadLogsResult> {
  const podName = p.pod.metadata?.name ?? "";
  const target = containerIdForLogs(podName, p.pod.status, p.containerName, p.options.previous);
  if ("error" in target) return { ok: false, error: target.error };
  const parsed = parseContainerId(target.id);
  if (typeof parsed === "string") return { ok: false, error: `unable to parse container id ${JSON.stringify(target.id)}: ${parsed}` };
  const st = await p.runtime.containerStatus(parsed.id);
  if (!st.ok) {
    p.logger?.debug("failed to get container status", { containerID: target.id, err: st.error.message });
    return { ok: false, error: `unable to retrieve container logs for ${target.id}` };
  }
  let path = st.value.logPath;
  // CRI runtimes report the full path; one that reports it relative to the pod's log directory is resolved here.
  if (path && !isAbsolute(path)) {
    const m = p.pod.metadata ?? {};
    path = join(p.podLogsDir ?? DEFAULT_POD_LOGS_DIR, `${m.namespace}_${m.name}_${m.uid}`, path);
  }
  return readLogs({
    path,
    containerId: parsed.id,
    opts: readLogsOptions(p.options, p.nowMs),
    runtime: p.runtime,
    sink: p.sink,
    signal: p.signal,
    logger: p.logger,
    pollIntervalMs: p.pollIntervalMs,
  });
}
