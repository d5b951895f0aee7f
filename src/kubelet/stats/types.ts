/**
 * The kubelet's Summary API (`GET /stats/summary`), shaped exactly as
 * upstream's stats/v1alpha1 types (k8s.io/kubelet/pkg/apis/stats/v1alpha1)
 * marshal to JSON: the same field names, optional fields left out when
 * unknown (Go's omitempty on pointers), times as metav1.Time (RFC 3339,
 * whole seconds). metrics-server and `kubectl get --raw
 * /api/v1/nodes/N/proxy/stats/summary` read these documents.
 *
 * Counters are JSON numbers: a uint64 above 2^53 loses its last bits, which
 * no rate computed from two samples can notice.
 */

/** CPU usage (CPUStats). */
export interface CpuStats {
  readonly time: string;
  /** Average usage over the last sampling interval, in billionths of a core. */
  readonly usageNanoCores?: number;
  /** Cumulative usage since the object's start, in core-nanoseconds. */
  readonly usageCoreNanoSeconds?: number;
}

/** Memory usage (MemoryStats). */
export interface MemoryStats {
  readonly time: string;
  /** The limit (or, for the node, the capacity) minus the working set; absent without a limit. */
  readonly availableBytes?: number;
  /** Total memory in use, page cache included. */
  readonly usageBytes?: number;
  /** Usage minus inactive file pages: what the OOM killer and eviction watch. */
  readonly workingSetBytes?: number;
  /** Anonymous and swap-cache memory. */
  readonly rssBytes?: number;
  readonly pageFaults?: number;
  readonly majorPageFaults?: number;
}

/** A filesystem, or one object's share of one (FsStats). */
export interface FsStats {
  readonly time: string;
  readonly availableBytes?: number;
  readonly capacityBytes?: number;
  readonly usedBytes?: number;
  readonly inodesFree?: number;
  readonly inodes?: number;
  readonly inodesUsed?: number;
}

/** Counters of one network interface (InterfaceStats). */
export interface InterfaceStats {
  readonly name: string;
  readonly rxBytes?: number;
  readonly rxErrors?: number;
  readonly txBytes?: number;
  readonly txErrors?: number;
}

/** Network counters: the default interface (eth0) inline, every interface in `interfaces` (NetworkStats). */
export interface NetworkStats extends Partial<InterfaceStats> {
  readonly time: string;
  readonly interfaces?: readonly InterfaceStats[];
}

/** The runtime's filesystems (RuntimeStats). */
export interface RuntimeStats {
  /** Where images are kept; usedBytes counts the images alone. */
  readonly imageFs?: FsStats;
  /** Where writable layers are kept, when it differs from the image filesystem. */
  readonly containerFs?: FsStats;
}

/** Process limits of the node (RlimitStats). */
export interface RlimitStats {
  readonly time: string;
  /** The lower of kernel.pid_max and kernel.threads-max. */
  readonly maxpid?: number;
  /** Tasks (processes and threads) on the node now. */
  readonly curproc?: number;
}

/** One container (ContainerStats); also the node's system containers. */
export interface ContainerStats {
  readonly name: string;
  readonly startTime: string;
  readonly cpu?: CpuStats;
  readonly memory?: MemoryStats;
  /** The container's writable layer. */
  readonly rootfs?: FsStats;
  /** The container's log files. */
  readonly logs?: FsStats;
}

/** Names the pod a PodStats is about (PodReference). */
export interface PodReference {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
}

/** The claim a volume comes from (PVCReference). */
export interface PvcReference {
  readonly name: string;
  readonly namespace: string;
}

/** One pod volume (VolumeStats: FsStats inline plus its name). */
export interface VolumeStats extends FsStats {
  readonly name?: string;
  readonly pvcRef?: PvcReference;
}

/** Processes of a pod (ProcessStats). */
export interface ProcessStats {
  readonly process_count?: number;
}

/** One pod (PodStats). */
export interface PodStats {
  readonly podRef: PodReference;
  readonly startTime: string;
  readonly containers: readonly ContainerStats[];
  readonly cpu?: CpuStats;
  readonly memory?: MemoryStats;
  readonly network?: NetworkStats;
  readonly volume?: readonly VolumeStats[];
  readonly "ephemeral-storage"?: FsStats;
  readonly process_stats?: ProcessStats;
}

/** The node (NodeStats). */
export interface NodeStats {
  readonly nodeName: string;
  /** The cgroups of node components; skiff reports `pods` (the cgroup every pod lives under). */
  readonly systemContainers?: readonly ContainerStats[];
  readonly startTime: string;
  readonly cpu?: CpuStats;
  readonly memory?: MemoryStats;
  readonly network?: NetworkStats;
  /** The filesystem holding the kubelet's root directory. */
  readonly fs?: FsStats;
  readonly runtime?: RuntimeStats;
  readonly rlimit?: RlimitStats;
}

/** The whole document (Summary). */
export interface Summary {
  readonly node: NodeStats;
  readonly pods: readonly PodStats[];
}

/** What `/stats/summary` asks for. */
export interface SummaryOptions {
  /**
   * `?only_cpu_and_memory=true` (what metrics-server asks): the node's and
   * pods' cpu and memory only, no filesystems, network, volumes or rlimit.
   */
  readonly onlyCpuAndMemory?: boolean;
}

/**
 * Where a kubelet's `/stats/summary` comes from (upstream's
 * SummaryProvider). Contract: resolves with a document for this node at
 * every call (never rejects for a pod or container that vanished meanwhile:
 * it is left out); `time` fields say when each value was read, and
 * cumulative counters never go backwards for one container instance, so a
 * reader may rate two documents. Rejects only when the node's own stats
 * cannot be read at all (the handler answers 500).
 */
export interface StatsProvider {
  summary(opts?: SummaryOptions): Promise<Summary>;
}

/** metav1.Time's JSON: RFC 3339 in UTC, whole seconds (`2024-05-01T10:00:00Z`). */
export function metaTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}
