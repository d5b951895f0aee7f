/**
 * Cluster-wide health: nodes that are NotReady (and since when) or under
 * pressure, cluster DNS answering (kube-system/kube-dns has ready
 * endpoints), and, on the server's machine, the store's size and the age
 * of its newest snapshot.
 */
import type { Node, Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import { humanBytes, humanDuration } from "./quantity.js";
import { type Finding, objectRef, type StoreFacts } from "./types.js";

const PRESSURE: Record<string, string> = {
  MemoryPressure: "is low on memory: the kubelet evicts pods and the scheduler avoids the node",
  DiskPressure: "is low on disk space: the kubelet removes unused images and evicts pods",
  PIDPressure: "is running out of process IDs",
  NetworkUnavailable: "has no pod network configured",
};

/** A snapshot newer than this counts as recent. */
export const SNAPSHOT_MAX_AGE_MS = 24 * 3600_000;

/** Findings for every node not Ready or under pressure, and for a cluster with no node. */
export function diagnoseNodes(nodes: readonly Node[], now: Date): Finding[] {
  if (nodes.length === 0) {
    return [
      {
        object: "Cluster",
        severity: "error",
        cause: "The cluster has no nodes, so no pod can run.",
        fix: "Join a node (skiff agent --server URL --token TOKEN) or start skiff server without --disable-agent.",
        evidence: ["kubectl get nodes: none"],
      },
    ];
  }
  const out: Finding[] = [];
  for (const n of nodes) {
    const name = n.metadata?.name;
    const ready = n.status?.conditions?.find((c) => c.type === "Ready");
    if (ready?.status !== "True") {
      const since = ready?.lastTransitionTime ? Date.parse(ready.lastTransitionTime) : undefined;
      const hb = ready?.lastHeartbeatTime;
      out.push({
        object: objectRef("Node", name),
        severity: "error",
        cause: `Node ${name} is NotReady${since !== undefined ? ` since ${ready?.lastTransitionTime} (${humanDuration(now.getTime() - since)})` : ""}: ${
          ready?.status === "Unknown" ? "its kubelet stopped posting status (agent down or unreachable)" : ready ? (ready.message ?? ready.reason ?? "") : "it never reported a Ready condition"
        }. Its pods are evicted after the toleration period and no new pod goes there.`,
        fix: `Check the agent on ${name} (is skiff agent running? its logs), the network between it and the server, and the node's disk and memory; kubectl describe node ${name}.`,
        evidence: [ready ? `condition Ready=${ready.status} ${ready.reason ?? ""}: ${ready.message ?? ""}${hb ? ` (last heartbeat ${hb})` : ""}` : "no Ready condition"],
      });
    }
    for (const c of n.status?.conditions ?? []) {
      const what = PRESSURE[c.type];
      if (!what || c.status !== "True") continue;
      out.push({
        object: objectRef("Node", name),
        severity: "warning",
        cause: `Node ${name} ${what}.`,
        fix: c.type === "DiskPressure" ? "Free disk space on the node (old images, logs) or grow its disk." : "Move pods elsewhere or give the node more resources.",
        evidence: [`condition ${c.type}=True ${c.reason ?? ""}: ${c.message ?? ""}`],
      });
    }
    if (n.spec?.unschedulable) {
      out.push({
        object: objectRef("Node", name),
        severity: "info",
        cause: `Node ${name} is cordoned: no new pod is scheduled there.`,
        fix: `kubectl uncordon ${name} when its maintenance is done.`,
        evidence: ["spec.unschedulable: true"],
      });
    }
  }
  return out;
}

/** Whether cluster DNS can answer: the kube-dns Service exists and has a ready endpoint. */
export function diagnoseDns(services: readonly Service[], slices: readonly EndpointSlice[]): Finding[] {
  const svc = services.find((s) => s.metadata?.namespace === "kube-system" && s.metadata?.name === "kube-dns");
  if (!svc) {
    return [
      {
        object: objectRef("Service", "kube-dns", "kube-system"),
        severity: "warning",
        cause: "Cluster DNS is not installed (no Service kube-system/kube-dns): pods cannot resolve Service names.",
        fix: "Start skiff server without disabling its DNS add-on.",
        evidence: ["kube-system/kube-dns: not found"],
      },
    ];
  }
  let ready = 0;
  let total = 0;
  for (const s of slices) {
    if (s.metadata?.namespace !== "kube-system" || s.metadata?.labels?.["kubernetes.io/service-name"] !== "kube-dns") continue;
    for (const e of s.endpoints ?? []) {
      total += e.addresses.length;
      if (e.conditions?.ready !== false) ready += e.addresses.length;
    }
  }
  if (ready > 0) return [];
  return [
    {
      object: objectRef("Service", "kube-dns", "kube-system"),
      severity: "error",
      cause: `Cluster DNS is not answering: Service kube-system/kube-dns (${svc.spec?.clusterIP ?? "no ClusterIP"}) has no ready endpoints${total ? ` (${total} not ready)` : ""}, so every Service name lookup in pods fails.`,
      fix: "Check the DNS server behind kube-dns (skiff server logs for the DNS add-on, or the DNS pods in kube-system).",
      evidence: [`EndpointSlices of kube-system/kube-dns: ${ready} ready of ${total}`],
    },
  ];
}

/** Store size and snapshot age, when doctor runs where the data dir is. */
export function diagnoseStore(store: StoreFacts, now: Date): Finding[] {
  const out: Finding[] = [];
  const etcdSize = store.etcd?.members.find((m) => m.status)?.status?.dbSize;
  const sizeLine = store.dbPath
    ? `store ${store.dbPath}: ${humanBytes(store.dbBytes ?? 0)}`
    : etcdSize !== undefined
      ? `store: embedded etcd, ${humanBytes(etcdSize)}`
      : "store: not the embedded sqlite file (an external datastore)";
  const newest = [...store.snapshots].sort((a, b) => b.mtime.getTime() - a.mtime.getTime())[0];
  const evidence = [sizeLine, newest ? `newest snapshot ${newest.name} at ${newest.mtime.toISOString()} (${humanBytes(newest.bytes)})` : `no snapshot in ${store.snapshotDir}`];
  if (!newest || now.getTime() - newest.mtime.getTime() > SNAPSHOT_MAX_AGE_MS) {
    out.push({
      object: "Cluster store",
      severity: "warning",
      cause: newest
        ? `The newest snapshot of the cluster store is ${humanDuration(now.getTime() - newest.mtime.getTime())} old; none is newer than a day. It is very important to take frequent backup.`
        : `The cluster store has never been snapshotted (nothing in ${store.snapshotDir}). It is very important to take frequent backup.`,
      fix: `Take one now (skiff snapshot save --data-dir ${store.dataDir}) and keep scheduled snapshots on (skiff server without --disable-snapshots; --snapshot-schedule).`,
      evidence,
    });
  } else {
    out.push({
      object: "Cluster store",
      severity: "info",
      cause: `The store is ${humanBytes(store.dbBytes ?? etcdSize ?? 0)}; the newest snapshot is ${humanDuration(now.getTime() - newest.mtime.getTime())} old.`,
      fix: "Nothing to do.",
      evidence,
    });
  }
  return out;
}
