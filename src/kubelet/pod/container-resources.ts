/**
 * Requests and limits to cgroup settings, as upstream's kuberuntime
 * (generateLinuxContainerResources, GetContainerOOMScoreAdjust) and the
 * cgroupfs QoS tree of the container manager: Guaranteed pods directly
 * under the node's pod cgroup, Burstable and BestEffort pods under
 * `burstable/` and `besteffort/`.
 */
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import type { LinuxContainerResources } from "../../runtime/types.js";
import { milliValue, value } from "../../scheduler/framework/quantity.js";

const MIN_SHARES = 2;
const MAX_SHARES = 262144;
const SHARES_PER_CPU = 1024;
const QUOTA_PERIOD = 100_000;
const MIN_QUOTA = 1000;
/** Priority from which a pod is critical (scheduling.SystemCriticalPriority). */
const SYSTEM_CRITICAL_PRIORITY = 2_000_000_000;
const GUARANTEED_OOM_SCORE_ADJ = -997;
const BEST_EFFORT_OOM_SCORE_ADJ = 1000;

/** cpu.shares for a cpu request in millicores (milliCPUToShares). */
export function milliCpuToShares(milliCpu: number): number {
  if (milliCpu === 0) return MIN_SHARES;
  const shares = Math.floor((milliCpu * SHARES_PER_CPU) / 1000);
  return Math.min(Math.max(shares, MIN_SHARES), MAX_SHARES);
}

/** CFS quota for a cpu limit in millicores over `period` µs (milliCPUToQuota); 0 means none. */
export function milliCpuToQuota(milliCpu: number, period: number): number {
  if (milliCpu === 0) return 0;
  return Math.max(Math.floor((milliCpu * period) / 1000), MIN_QUOTA);
}

/** The pod's QoS class as the API server recorded it (Burstable when it did not). */
export function qosClassOf(pod: Pod): "Guaranteed" | "Burstable" | "BestEffort" {
  const q = pod.status?.qosClass;
  return q === "Guaranteed" || q === "BestEffort" ? q : "Burstable";
}

/** oom_score_adj of a container (GetContainerOOMScoreAdjust). */
export function oomScoreAdjust(pod: Pod, container: Container, memoryCapacity: number): number {
  if ((pod.spec?.priority ?? 0) >= SYSTEM_CRITICAL_PRIORITY) return GUARANTEED_OOM_SCORE_ADJ;
  const qos = qosClassOf(pod);
  if (qos === "Guaranteed") return GUARANTEED_OOM_SCORE_ADJ;
  if (qos === "BestEffort") return BEST_EFFORT_OOM_SCORE_ADJ;
  const request = value(container.resources?.requests?.memory);
  const adjust = memoryCapacity > 0 ? 1000 - Math.floor((1000 * request) / memoryCapacity) : 1000;
  // Burstable containers always rank above Guaranteed ones and below BestEffort ones.
  if (adjust < 1000 + GUARANTEED_OOM_SCORE_ADJ) return 1000 + GUARANTEED_OOM_SCORE_ADJ;
  if (adjust === BEST_EFFORT_OOM_SCORE_ADJ) return adjust - 1;
  return adjust;
}

/** The container's cgroup settings (generateLinuxContainerResources). */
export function linuxContainerResources(pod: Pod, container: Container, memoryCapacity: number): LinuxContainerResources {
  const req = container.resources?.requests ?? {};
  const lim = container.resources?.limits ?? {};
  // The API server defaults a missing request to the limit; a pod made some other way gets the same.
  const cpuRequest = milliValue(req.cpu ?? lim.cpu);
  const out: { -readonly [K in keyof LinuxContainerResources]: LinuxContainerResources[K] } = {
    cpuShares: milliCpuToShares(cpuRequest),
    oomScoreAdj: oomScoreAdjust(pod, container, memoryCapacity),
  };
  const memoryLimit = value(lim.memory);
  if (memoryLimit > 0) out.memoryLimitInBytes = memoryLimit;
  if (lim.cpu !== undefined) {
    out.cpuPeriod = QUOTA_PERIOD;
    out.cpuQuota = milliCpuToQuota(milliValue(lim.cpu), QUOTA_PERIOD);
  }
  return out;
}

/** A quantity (string or number) in whole units; 0 when absent. */
export function quantityBytes(q: string | number | undefined): number {
  return q === undefined ? 0 : value(String(q));
}

/** The pod's cgroup below the node's pod cgroup root: `/pod<uid>`, `/burstable/pod<uid>` or `/besteffort/pod<uid>`. */
export function podCgroupParent(pod: Pod): string {
  const uid = pod.metadata?.uid ?? "";
  const qos = qosClassOf(pod);
  return qos === "Guaranteed" ? `/pod${uid}` : `/${qos.toLowerCase()}/pod${uid}`;
}
