/**
 * The node authorizer's graph, as upstream's plugin/pkg/auth/authorizer/node
 * Graph: which objects each node reaches through the pods bound to it
 * (pod → node; secret, configmap, pvc, serviceaccount → pod) and through the
 * PersistentVolumes bound to those pods' claims (pv → pvc, secret → pv).
 * Kept incrementally: each pod and PV remembers what it contributed, so an
 * update or delete takes exactly that back.
 */
import { podReferences, pvReferences, type RefKey, type RefKind, refKey } from "./pod-refs.js";

/** The parts of a pod the graph reads. */
export interface PodLike {
  readonly metadata?: { readonly namespace?: string; readonly name?: string; readonly uid?: string };
  readonly spec?: unknown;
}

interface PodEntry {
  readonly node: string;
  readonly refs: ReadonlySet<RefKey>;
}

interface PvEntry {
  readonly claim?: string;
  readonly secrets: readonly string[];
}

export class NodeGraph {
  /** Per node, how many of its pods reference each object. */
  private readonly byNode = new Map<string, Map<RefKey, number>>();
  /** Per pod (`ns/name`), what it added. */
  private readonly pods = new Map<string, PodEntry>();
  /** Per PV name, its bound claim and secrets. */
  private readonly pvs = new Map<string, PvEntry>();
  /** Per claim (`ns/name`), the PVs claiming it (normally one). */
  private readonly pvsByClaim = new Map<string, Set<string>>();
  /** Per secret (`ns/name`), the PVs naming it. */
  private readonly pvsBySecret = new Map<string, Set<string>>();

  /** Adds or replaces a pod; a pod not bound to a node adds nothing, as upstream. */
  setPod(pod: PodLike): void {
    const key = `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
    this.deletePod(key);
    const node = (pod.spec as { nodeName?: unknown } | undefined)?.nodeName;
    if (typeof node !== "string" || node === "") return;
    const refs = podReferences(pod);
    this.pods.set(key, { node, refs });
    let counts = this.byNode.get(node);
    if (!counts) this.byNode.set(node, (counts = new Map()));
    for (const r of refs) counts.set(r, (counts.get(r) ?? 0) + 1);
  }

  /** Removes a pod by `ns/name`. */
  deletePod(key: string): void {
    const old = this.pods.get(key);
    if (!old) return;
    this.pods.delete(key);
    const counts = this.byNode.get(old.node);
    if (!counts) return;
    for (const r of old.refs) {
      const n = (counts.get(r) ?? 0) - 1;
      if (n > 0) counts.set(r, n);
      else counts.delete(r);
    }
    if (counts.size === 0) this.byNode.delete(old.node);
  }

  /** Replaces every pod with `pods` (after a relist). */
  resetPods(pods: readonly PodLike[]): void {
    const keep = new Set(pods.map((p) => `${p.metadata?.namespace ?? ""}/${p.metadata?.name ?? ""}`));
    for (const k of [...this.pods.keys()]) if (!keep.has(k)) this.deletePod(k);
    for (const p of pods) this.setPod(p);
  }

  /** Replaces every PV with `pvs` (after a relist). */
  resetPVs(pvs: readonly { metadata?: { name?: string }; spec?: unknown }[]): void {
    const keep = new Set(pvs.map((p) => p.metadata?.name ?? ""));
    for (const k of [...this.pvs.keys()]) if (!keep.has(k)) this.deletePV(k);
    for (const p of pvs) this.setPV(p);
  }

  setPV(pv: { metadata?: { name?: string }; spec?: unknown }): void {
    const name = pv.metadata?.name ?? "";
    this.deletePV(name);
    const { claim, secrets } = pvReferences(pv);
    this.pvs.set(name, { ...(claim ? { claim } : {}), secrets });
    if (claim) addTo(this.pvsByClaim, claim, name);
    for (const s of secrets) addTo(this.pvsBySecret, s, name);
  }

  deletePV(name: string): void {
    const old = this.pvs.get(name);
    if (!old) return;
    this.pvs.delete(name);
    if (old.claim) removeFrom(this.pvsByClaim, old.claim, name);
    for (const s of old.secrets) removeFrom(this.pvsBySecret, s, name);
  }

  /** Whether a pod bound to `node` references `kind` `ns/name`. */
  private direct(node: string, kind: RefKind, ns: string, name: string): boolean {
    return (this.byNode.get(node)?.get(refKey(kind, ns, name)) ?? 0) > 0;
  }

  /** Whether `pv` is bound to a claim some pod on `node` uses. */
  private reachesPV(node: string, pv: string): boolean {
    const claim = this.pvs.get(pv)?.claim;
    if (!claim) return false;
    const i = claim.indexOf("/");
    return this.direct(node, "pvc", claim.slice(0, i), claim.slice(i + 1));
  }

  /** The pod `ns/name` is bound to `node`. */
  podOnNode(node: string, ns: string, name: string): boolean {
    return this.pods.get(`${ns}/${name}`)?.node === node;
  }

  /** Upstream's hasPathFrom: a path from the object to the node exists. */
  hasPathFrom(node: string, kind: RefKind | "pv", ns: string, name: string): boolean {
    switch (kind) {
      case "pv":
        return this.reachesPV(node, name);
      case "secret":
        if (this.direct(node, "secret", ns, name)) return true;
        for (const pv of this.pvsBySecret.get(`${ns}/${name}`) ?? []) if (this.reachesPV(node, pv)) return true;
        return false;
      default:
        return this.direct(node, kind, ns, name);
    }
  }
}

function addTo(m: Map<string, Set<string>>, k: string, v: string): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}

function removeFrom(m: Map<string, Set<string>>, k: string, v: string): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (s.size === 0) m.delete(k);
}
