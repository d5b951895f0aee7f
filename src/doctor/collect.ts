/**
 * Gathers a {@link ClusterView} from the API server (and, on the server's
 * machine, the data dir): the lists the diagnoses read, plus the last log
 * lines of every container that is crash-looping.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { readEtcdFacts } from "./etcd-facts.js";
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
import { type KubeObject, ResourceClient, type ResourceDescriptor } from "../client/resource-client.js";
import {
  CORE_EVENTS,
  ENDPOINT_SLICES,
  NAMESPACES,
  NODES,
  PERSISTENT_VOLUME_CLAIMS,
  PERSISTENT_VOLUMES,
  PODS,
  SERVICES,
  RESOURCE_QUOTAS,
  STORAGE_CLASSES,
} from "../client/resources.js";
import type { RestClient } from "../client/rest-client.js";
import { isCrashing } from "./crash-loop.js";
import { diagnose, isHealthy } from "./diagnose.js";
import { type ClusterView, type LogTail, logKey, type Report, type StoreFacts } from "./types.js";

/** Log lines fetched per crashing container. */
const TAIL_LINES = 20;

/** What to diagnose. */
export interface CollectOptions {
  /** One namespace; undefined with {@link allNamespaces}. */
  readonly namespace?: string;
  readonly allNamespaces?: boolean;
  /** One pod (in {@link namespace}). */
  readonly pod?: string;
  /** The server's data dir, when doctor runs on its machine. */
  readonly dataDir?: string;
  readonly now?: Date;
}

async function listAll<T extends KubeObject>(rest: RestClient, d: ResourceDescriptor, ns?: string): Promise<T[]> {
  const c = new ResourceClient<T>(rest, d);
  return (await (ns && d.namespaced ? c.namespace(ns) : c).listAll()).items;
}

/** Reads a container's last log lines (the previous run's when it restarted). */
export async function fetchLogTail(rest: RestClient, ns: string, pod: string, container: string, previous: boolean): Promise<LogTail> {
  const path = `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(pod)}/log`;
  const read = async (prev: boolean): Promise<string> => {
    const res = await rest.stream("GET", path, { query: { container, tailLines: TAIL_LINES, previous: prev || undefined }, signal: AbortSignal.timeout(10_000) });
    let text = "";
    for await (const chunk of res) text += (chunk as Buffer).toString("utf8");
    return text;
  };
  try {
    let prev = previous;
    let text: string;
    try {
      text = await read(prev);
    } catch (err) {
      // No previous run kept (the runtime removed it): the current one may still tell.
      if (!prev) throw err;
      prev = false;
      text = await read(prev);
    }
    const lines = text.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    return { lines, previous: prev };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Store size and snapshots under the data dir; undefined when the dir is not there. */
export function readStoreFacts(dataDir: string): StoreFacts | undefined {
  const dbDir = join(dataDir, "db");
  if (!existsSync(dbDir)) return undefined;
  const dbPath = join(dbDir, "state.db");
  let dbBytes: number | undefined;
  if (existsSync(dbPath)) {
    dbBytes = 0;
    for (const f of [dbPath, `${dbPath}-wal`]) if (existsSync(f)) dbBytes += statSync(f).size;
  }
  const snapshotDir = join(dbDir, "snapshots");
  const snapshots = existsSync(snapshotDir)
    ? readdirSync(snapshotDir, { withFileTypes: true })
        .filter((e) => e.isFile() && !e.name.startsWith(".") && !e.name.endsWith(".tmp"))
        .map((e) => {
          const st = statSync(join(snapshotDir, e.name));
          return { name: e.name, mtime: st.mtime, bytes: st.size };
        })
    : [];
  return { dataDir, dbPath: existsSync(dbPath) ? dbPath : undefined, dbBytes, snapshotDir, snapshots };
}

/** Adds the embedded etcd cluster's facts, when the data dir runs one. */
async function withEtcd(facts: StoreFacts | undefined, dataDir: string): Promise<StoreFacts | undefined> {
  if (!facts) return undefined;
  const etcd = await readEtcdFacts(dataDir);
  return etcd ? { ...facts, etcd } : facts;
}

/** Lists everything, fetches log tails of crashing containers, and diagnoses. */
export async function collectAndDiagnose(rest: RestClient, o: CollectOptions): Promise<Report> {
  const ns = o.allNamespaces ? undefined : (o.namespace ?? "default");
  let pods: Pod[];
  if (o.pod) {
    pods = [await new ResourceClient<Pod>(rest, PODS).namespace(ns ?? "default").get(o.pod)];
  } else {
    pods = await listAll<Pod>(rest, PODS, ns);
  }
  // Cluster-wide lists: Services and claims in other namespaces explain connection errors and DNS.
  const [events, nodes, pvcs, pvs, storageClasses, services, endpointSlices, resourceQuotas, namespaces] = await Promise.all([
    listAll<Event>(rest, CORE_EVENTS, ns),
    listAll<Node>(rest, NODES),
    listAll<PersistentVolumeClaim>(rest, PERSISTENT_VOLUME_CLAIMS),
    listAll<PersistentVolume>(rest, PERSISTENT_VOLUMES),
    listAll<StorageClass>(rest, STORAGE_CLASSES),
    listAll<Service>(rest, SERVICES),
    listAll<EndpointSlice>(rest, ENDPOINT_SLICES),
    listAll<ResourceQuota>(rest, RESOURCE_QUOTAS, ns),
    listAll<Namespace>(rest, NAMESPACES),
  ]);
  const logs = new Map<string, LogTail>();
  await Promise.all(
    pods
      .filter((p) => !isHealthy(p))
      .flatMap((p) =>
        [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]
          .filter((cs) => isCrashing(cs) || cs.lastState?.terminated?.reason === "OOMKilled")
          .map(async (cs) => {
            const pns = p.metadata?.namespace ?? "";
            const name = p.metadata?.name ?? "";
            logs.set(logKey(pns, name, cs.name), await fetchLogTail(rest, pns, name, cs.name, (cs.restartCount ?? 0) > 0));
          }),
      ),
  );
  const view: ClusterView = {
    now: o.now ?? new Date(),
    pods,
    events,
    nodes,
    pvcs,
    pvs,
    storageClasses,
    services,
    endpointSlices,
    resourceQuotas,
    namespaces,
    logs,
    store: o.dataDir ? await withEtcd(readStoreFacts(o.dataDir), o.dataDir) : undefined,
  };
  return diagnose(view, { namespaces: ns ? new Set([ns]) : undefined, singlePod: !!o.pod });
}
