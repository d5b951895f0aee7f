/**
 * The CRI configs the kubelet builds from a pod (upstream kuberuntime's
 * generatePodSandboxConfig and generateContainerConfig), with the labels
 * that let it find the objects again.
 */
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import { join } from "node:path";
import type { ContainerConfig, KeyValue, Mount, PodSandboxConfig, PortMapping } from "../../runtime/types.js";
import {
  CONTAINER_KIND_ANNOTATION,
  CONTAINER_NAME_LABEL,
  CONTAINER_RESTART_COUNT_ANNOTATION,
  CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION,
  CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION,
  POD_NAME_LABEL,
  POD_NAMESPACE_LABEL,
  POD_TERMINATION_GRACE_PERIOD_ANNOTATION,
  POD_UID_LABEL,
} from "../runtime-labels.js";

import { linuxContainerResources, podCgroupParent } from "./container-resources.js";
import { expandCommandAndArgs } from "./env.js";

/** Cluster DNS settings pods with dnsPolicy ClusterFirst get. */
export interface ClusterDns {
  /** e.g. ["10.43.0.10"]. */
  readonly servers: readonly string[];
  /** e.g. "cluster.local". */
  readonly domain: string;
}

/** k3s' defaults: DNS at 10.43.0.10, domain cluster.local. */
export const DEFAULT_CLUSTER_DNS: ClusterDns = { servers: ["10.43.0.10"], domain: "cluster.local" };

/** upstream's podLogsDir default. */
export const DEFAULT_POD_LOGS_DIR = "/var/log/pods";

/** upstream BuildPodLogsDirectory: `<podLogsDir>/<ns>_<name>_<uid>`. */
export function podLogsDirectory(podLogsDir: string, pod: Pod): string {
  const m = pod.metadata ?? {};
  return join(podLogsDir, `${m.namespace ?? "default"}_${m.name ?? ""}_${m.uid ?? ""}`);
}

function podLabels(pod: Pod): Record<string, string> {
  const m = pod.metadata ?? {};
  return { ...(m.labels ?? {}), [POD_NAME_LABEL]: m.name ?? "", [POD_NAMESPACE_LABEL]: m.namespace ?? "", [POD_UID_LABEL]: m.uid ?? "" };
}

/** The sandbox config of `pod` for its `attempt`-th sandbox; container logs under `podLogsDir` (kubelet option podLogsDir). */
export function sandboxConfig(pod: Pod, attempt: number, dns: ClusterDns = DEFAULT_CLUSTER_DNS, podLogsDir: string = DEFAULT_POD_LOGS_DIR): PodSandboxConfig {
  const m = pod.metadata ?? {};
  const spec = pod.spec;
  const ports: PortMapping[] = [];
  for (const c of spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (!p.hostPort) continue;
      ports.push({ protocol: (p.protocol as PortMapping["protocol"] | undefined) ?? "TCP", containerPort: p.containerPort, hostPort: p.hostPort, ...(p.hostIP ? { hostIp: p.hostIP } : {}) });
    }
  }
  const ns = m.namespace ?? "default";
  const policy = spec?.dnsPolicy ?? "ClusterFirst";
  const clusterFirst = policy === "ClusterFirst" || (policy === "ClusterFirstWithHostNet" && spec?.hostNetwork);
  return {
    metadata: { name: m.name ?? "", namespace: ns, uid: m.uid ?? "", attempt },
    hostname: spec?.hostname ?? m.name,
    logDirectory: podLogsDirectory(podLogsDir, pod),
    ...(clusterFirst
      ? { dnsConfig: { servers: dns.servers, searches: [`${ns}.svc.${dns.domain}`, `svc.${dns.domain}`, dns.domain], options: ["ndots:5"] } }
      : {}),
    portMappings: ports,
    hostNetwork: spec?.hostNetwork === true,
    cgroupParent: podCgroupParent(pod),
    labels: podLabels(pod),
    annotations: { ...(m.annotations ?? {}), [POD_TERMINATION_GRACE_PERIOD_ANNOTATION]: String(spec?.terminationGracePeriodSeconds ?? 30) },
  };
}

/** The kind of a container, as the kind annotation records it. */
export type ContainerKind = "init" | "sidecar" | "regular";

/** What the kubelet resolved for a container before creating it. */
export interface ContainerRuntimeOptions {
  /** The final environment (pod/env.ts). */
  readonly envs: readonly KeyValue[];
  /** Volume mounts, /etc/hosts and the termination-message file (volumes/). */
  readonly mounts: readonly Mount[];
  /** The node's memory in bytes (Burstable containers' oom_score_adj); 0 when unknown. */
  readonly memoryCapacity?: number;
}

/**
 * The container config of `container` (upstream generateContainerConfig):
 * the resolved environment and mounts, command and args with `$(VAR)`
 * expanded from that environment.
 */
export function containerConfig(pod: Pod, container: Container, kind: ContainerKind, restartCount: number, opts: ContainerRuntimeOptions = { envs: [], mounts: [] }): ContainerConfig {
  const m = pod.metadata ?? {};
  const { command, args } = expandCommandAndArgs(container, opts.envs);
  return {
    metadata: { name: container.name, attempt: restartCount },
    image: container.image ?? "",
    command,
    args,
    ...(container.workingDir ? { workingDir: container.workingDir } : {}),
    envs: [...opts.envs],
    mounts: [...opts.mounts],
    logPath: `${container.name}/${restartCount}.log`,
    stdin: container.stdin === true,
    stdinOnce: container.stdinOnce === true,
    tty: container.tty === true,
    resources: linuxContainerResources(pod, container, opts.memoryCapacity ?? 0),
    labels: { [POD_NAME_LABEL]: m.name ?? "", [POD_NAMESPACE_LABEL]: m.namespace ?? "", [POD_UID_LABEL]: m.uid ?? "", [CONTAINER_NAME_LABEL]: container.name },
    annotations: {
      [CONTAINER_RESTART_COUNT_ANNOTATION]: String(restartCount),
      [CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION]: container.terminationMessagePath ?? "/dev/termination-log",
      [CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION]: container.terminationMessagePolicy ?? "File",
      [CONTAINER_KIND_ANNOTATION]: kind,
    },
  };
}
