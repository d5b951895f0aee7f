/**
 * What `skiff doctor` reads and what it says. The diagnosis functions are
 * pure: they take a {@link ClusterView} (objects as the API returns them,
 * plus the log tails and store facts the collector gathered) and return
 * {@link Finding}s, so each one is tested on hand-made objects.
 */
import type {
  Event,
  Namespace,
  Node,
  PersistentVolume,
  PersistentVolumeClaim,
  Pod,
  ResourceQuota,
  Service,
} from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import type { StorageClass } from "kubernetes-types/storage/v1.js";
import type { EtcdFacts } from "./etcd-facts.js";

/** How bad a finding is: `error` and `warning` make the cluster unhealthy; `info` does not. */
export type Severity = "error" | "warning" | "info";

/**
 * One explained problem. The JSON output is a list of these; the field set
 * is stable for scripts.
 */
export interface Finding {
  /** The object it is about, as `Kind namespace/name` (`Kind name` when cluster-scoped). */
  readonly object: string;
  readonly severity: Severity;
  /** What is wrong, in plain words. */
  readonly cause: string;
  /** What to do about it. */
  readonly fix: string;
  /** The facts the cause was read from (status messages, events, log lines). */
  readonly evidence: string[];
}

/** The store facts that only a run on the server's machine sees (`--data-dir`). */
export interface StoreFacts {
  readonly dataDir: string;
  /** The sqlite file and its size (with its WAL), when the server uses the embedded store. */
  readonly dbPath?: string;
  readonly dbBytes?: number;
  readonly snapshotDir: string;
  /** Snapshot files found, with their modification times. */
  readonly snapshots: readonly { readonly name: string; readonly mtime: Date; readonly bytes: number }[];
  /** The embedded etcd cluster, when the server runs one. */
  readonly etcd?: EtcdFacts;
}

/** Everything the diagnoses look at. Lists are cluster-wide unless noted. */
export interface ClusterView {
  readonly now: Date;
  /** The pods to diagnose (already narrowed to the namespace or the named pod). */
  readonly pods: readonly Pod[];
  readonly events: readonly Event[];
  readonly nodes: readonly Node[];
  readonly pvcs: readonly PersistentVolumeClaim[];
  readonly pvs: readonly PersistentVolume[];
  readonly storageClasses: readonly StorageClass[];
  readonly services: readonly Service[];
  readonly endpointSlices: readonly EndpointSlice[];
  readonly resourceQuotas: readonly ResourceQuota[];
  readonly namespaces: readonly Namespace[];
  /** Last log lines per container, keyed by {@link logKey}; absent when not fetched. */
  readonly logs: ReadonlyMap<string, LogTail>;
  readonly store?: StoreFacts;
}

/** A container's last log lines, or why they could not be read. */
export type LogTail = { readonly lines: readonly string[]; readonly previous: boolean } | { readonly error: string };

/** The key of a container's log tail in {@link ClusterView.logs}. */
export function logKey(namespace: string, pod: string, container: string): string {
  return `${namespace}/${pod}/${container}`;
}

/** The whole answer: healthy only when no finding is an error or a warning. */
export interface Report {
  readonly healthy: boolean;
  readonly findings: Finding[];
}

/** `Pod ns/name`, `Node name`: how findings name objects. */
export function objectRef(kind: string, name: string | undefined, namespace?: string): string {
  return namespace ? `${kind} ${namespace}/${name ?? ""}` : `${kind} ${name ?? ""}`;
}
