/**
 * The CRI configs the kubelet builds from a pod (upstream kuberuntime's
 * generatePodSandboxConfig and generateContainerConfig), with the labels
 * that let it find the objects again.
 */
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import type { ContainerConfig, KeyValue, PodSandboxConfig, PortMapping } from "../../runtime/types.js";
import {
  CONTAINER_KIND_ANNOTATION,
  CONTAINER_NAME_LABEL,
  CONTAINER_RESTART_COUNT_ANNOTATION,
  CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION,
  POD_NAME_LABEL,
  POD_NAMESPACE_LABEL,
  POD_TERMINATION_GRACE_PERIOD_ANNOTATION,
  POD_UID_LABEL,
} from "../runtime-labels.js";

/** Cluster DNS settings pods with dnsPolicy ClusterFirst get. */
export interface ClusterDns {
  /** e.g. ["10.43.0.10"]. */
  readonly servers: readonly string[];
  /** e.g. "cluster.local". */
  readonly domain: string;
}

/** k3s' defaults: DNS at 10.43.0.10, domain cluster.local. */
export const DEFAULT_CLUSTER_DNS: ClusterDns = { servers: ["10.43.0.10"], domain: "cluster.local" };

function podLabels(pod: Pod): Record<string, string> {
  const m = pod.metadata ?? {};
  return { ...(m.labels ?? {}), [POD_NAME_LABEL]: m.name ?? "", [POD_NAMESPACE_LABEL]: m.namespace ?? "", [POD_UID_LABEL]: m.uid ?? "" };
}

/** The sandbox config of `pod` for its `attempt`-th sandbox. */
export function sandboxConfig(pod: Pod, attempt: number, dns: ClusterDns = DEFAULT_CLUSTER_DNS): PodSandboxConfig {
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
    logDirectory: `/var/log/pods/${ns}_${m.name}_${m.uid}`,
    ...(clusterFirst
      ? { dnsConfig: { servers: dns.servers, searches: [`${ns}.svc.${dns.domain}`, `svc.${dns.domain}`, dns.domain], options: ["ndots:5"] } }
      : {}),
    portMappings: ports,
    hostNetwork: spec?.hostNetwork === true,
    labels: podLabels(pod),
    annotations: { ...(m.annotations ?? {}), [POD_TERMINATION_GRACE_PERIOD_ANNOTATION]: String(spec?.terminationGracePeriodSeconds ?? 30) },
  };
}

/** The kind of a container, as the kind annotation records it. */
export type ContainerKind = "init" | "sidecar" | "regular";

/**
 * The container config of `container`. Environment: literal `value`s only
 * in this slice (valueFrom/envFrom resolution comes with volumes).
 */
export function containerConfig(pod: Pod, container: Container, kind: ContainerKind, restartCount: number): ContainerConfig {
  const m = pod.metadata ?? {};
  const envs: KeyValue[] = [];
  for (const e of container.env ?? []) if (e.value !== undefined) envs.push({ key: e.name, value: e.value });
  return {
    metadata: { name: container.name, attempt: restartCount },
    image: container.image ?? "",
    command: container.command ?? [],
    args: container.args ?? [],
    ...(container.workingDir ? { workingDir: container.workingDir } : {}),
    envs,
    mounts: [],
    logPath: `${container.name}/${restartCount}.log`,
    stdin: container.stdin === true,
    stdinOnce: container.stdinOnce === true,
    tty: container.tty === true,
    labels: { [POD_NAME_LABEL]: m.name ?? "", [POD_NAMESPACE_LABEL]: m.namespace ?? "", [POD_UID_LABEL]: m.uid ?? "", [CONTAINER_NAME_LABEL]: container.name },
    annotations: {
      [CONTAINER_RESTART_COUNT_ANNOTATION]: String(restartCount),
      [CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION]: container.terminationMessagePath ?? "/dev/termination-log",
      [CONTAINER_KIND_ANNOTATION]: kind,
    },
  };
}
