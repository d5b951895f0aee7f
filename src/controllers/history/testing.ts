/**
 * An in-memory ControllerRevision store for unit tests (upstream's
 * `fakeHistory`): writes are visible to the lister at once, names clash
 * with AlreadyExists, updates check the resourceVersion.
 */
import type { ControllerRevision } from "kubernetes-types/apps/v1.js";
import { alreadyExists, conflict, notFound } from "../../machinery/status-error.js";
import type { ControllerRevisionApi, ControllerRevisionLister } from "./controller-history.js";

const Q = { group: "apps", resource: "controllerrevisions" };

/** Revisions kept in a map, served as both the API and the cache. */
export class FakeRevisionStore implements ControllerRevisionLister {
  private readonly items = new Map<string, ControllerRevision>();
  private rv = 0;
  private uid = 0;
  /** Every write, as `verb ns/name`. */
  readonly actions: string[] = [];
  /** Creation timestamps are this, plus one second per create. */
  clockMs = Date.UTC(2024, 0, 1);

  constructor(initial: readonly ControllerRevision[] = []) {
    for (const cr of initial) this.put(structuredClone(cr));
  }

  private put(cr: ControllerRevision): ControllerRevision {
    cr.metadata = { ...cr.metadata, resourceVersion: String(++this.rv) };
    this.items.set(`${cr.metadata.namespace ?? ""}/${cr.metadata.name ?? ""}`, cr);
    return structuredClone(cr);
  }

  list(namespace: string): ControllerRevision[] {
    return [...this.items.values()].filter((c) => (c.metadata?.namespace ?? "") === namespace).map((c) => structuredClone(c));
  }

  get(namespace: string, name: string): ControllerRevision | undefined {
    const c = this.items.get(`${namespace}/${name}`);
    return c ? structuredClone(c) : undefined;
  }

  /** The store as the API server, for {@link RealControllerHistory}. */
  readonly api: ControllerRevisionApi = {
    create: (ns, cr) => this.create(ns, cr),
    get: async (ns, name) => {
      const c = this.get(ns, name);
      if (!c) throw notFound(Q, name);
      return c;
    },
    update: (cr) => this.update(cr),
    delete: (ns, name) => this.delete(ns, name),
    patch: (ns, name, patch) => this.patch(ns, name, patch),
  };

  all(): ControllerRevision[] {
    return [...this.items.values()].map((c) => structuredClone(c));
  }

  async create(namespace: string, cr: ControllerRevision): Promise<ControllerRevision> {
    const name = cr.metadata?.name ?? "";
    this.actions.push(`create ${namespace}/${name}`);
    if (this.items.has(`${namespace}/${name}`)) throw alreadyExists(Q, name);
    const stored = structuredClone(cr);
    this.clockMs += 1000;
    stored.metadata = { ...stored.metadata, namespace, uid: `cr-uid-${++this.uid}`, creationTimestamp: new Date(this.clockMs).toISOString().replace(/\.\d{3}Z$/, "Z") };
    return this.put(stored);
  }

  async update(cr: ControllerRevision): Promise<ControllerRevision> {
    const key = `${cr.metadata?.namespace ?? ""}/${cr.metadata?.name ?? ""}`;
    this.actions.push(`update ${key}`);
    const old = this.items.get(key);
    if (!old) throw notFound(Q, cr.metadata?.name ?? "");
    if (cr.metadata?.resourceVersion && cr.metadata.resourceVersion !== old.metadata?.resourceVersion) {
      throw conflict(Q, cr.metadata?.name ?? "", "the object has been modified; please apply your changes to the latest version and try again");
    }
    return this.put(structuredClone(cr));
  }

  async delete(namespace: string, name: string): Promise<void> {
    this.actions.push(`delete ${namespace}/${name}`);
    if (!this.items.delete(`${namespace}/${name}`)) throw notFound(Q, name);
  }

  async patch(namespace: string, name: string, patch: unknown): Promise<ControllerRevision> {
    this.actions.push(`patch ${namespace}/${name}`);
    const old = this.items.get(`${namespace}/${name}`);
    if (!old) throw notFound(Q, name);
    // Only the ownerReference patches history makes: add a controllerRef, or delete refs by uid.
    const meta = (patch as { metadata?: { ownerReferences?: { uid?: string; $patch?: string }[] } }).metadata;
    const next = structuredClone(old);
    const refs = next.metadata?.ownerReferences ?? [];
    for (const r of meta?.ownerReferences ?? []) {
      if (r.$patch === "delete") {
        const i = refs.findIndex((x) => x.uid === r.uid);
        if (i >= 0) refs.splice(i, 1);
      } else refs.push(r as (typeof refs)[number]);
    }
    next.metadata = { ...next.metadata, ownerReferences: refs };
    return this.put(next);
  }
}
