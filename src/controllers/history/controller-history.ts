/**
 * Managing a controller's ControllerRevisions (upstream's
 * `history.Interface` and `realHistory`): list them from the cache,
 * create one (renaming on a hash collision), renumber, delete, adopt and
 * release them. Writes go to the API server; reads come from the shared
 * ControllerRevision informer.
 */
import type { ControllerRevision } from "kubernetes-types/apps/v1.js";
import type { ObjectMeta } from "kubernetes-types/meta/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import { ResourceClient } from "../../client/resource-client.js";
import type { RestClient } from "../../client/rest-client.js";
import type { LabelSelector } from "../../machinery/labels.js";
import { isAlreadyExists, isConflict, isInvalid, isNotFound } from "../../machinery/status-error.js";
import { type GroupVersionKind, getControllerOf } from "../common/controller-ref.js";
import { deleteOwnerRefStrategicMergePatch } from "../common/controller-ref-manager.js";
import { controllerRevisionName, hashControllerRevision, revisionRaw } from "./history.js";
import { CONTROLLER_REVISIONS } from "./kinds.js";

/** The ControllerRevision calls history makes; {@link restControllerRevisionApi} for a real server. */
export interface ControllerRevisionApi {
  create(namespace: string, cr: ControllerRevision): Promise<ControllerRevision>;
  /** A live GET. */
  get(namespace: string, name: string): Promise<ControllerRevision>;
  /** A PUT, conditional on the resourceVersion it carries. */
  update(cr: ControllerRevision): Promise<ControllerRevision>;
  delete(namespace: string, name: string): Promise<void>;
  /** A strategic-merge patch. */
  patch(namespace: string, name: string, patch: unknown): Promise<ControllerRevision>;
}

/** {@link ControllerRevisionApi} over apps/v1 controllerrevisions. */
export function restControllerRevisionApi(rest: RestClient): ControllerRevisionApi {
  const crs = new ResourceClient<ControllerRevision>(rest, CONTROLLER_REVISIONS);
  return {
    create: (ns, cr) => crs.namespace(ns).create(cr),
    get: (ns, name) => crs.namespace(ns).get(name),
    update: (cr) => crs.namespace(cr.metadata?.namespace ?? "").update(cr),
    delete: (ns, name) => crs.namespace(ns).delete(name),
    patch: (ns, name, patch) => crs.namespace(ns).patch(name, patch, { type: "strategic" }),
  };
}

/** Cached revisions (the shared informer's store). */
export interface ControllerRevisionLister {
  /** The revisions of `namespace`. */
  list(namespace: string): ControllerRevision[];
  get(namespace: string, name: string): ControllerRevision | undefined;
}

/** A lister over a shared ControllerRevision informer. */
export function informerRevisionLister(informer: SharedInformer<ControllerRevision>): ControllerRevisionLister {
  return { list: (ns) => informer.byNamespace(ns), get: (ns, name) => informer.get(`${ns}/${name}`) };
}

/** What controllers do with their history (upstream's `history.Interface`). */
export interface ControllerHistory {
  /**
   * The revisions of `parent`'s namespace that match `selector` and are
   * owned by `parent` or by no controller at all.
   */
  listControllerRevisions(parent: ObjectMeta, selector: LabelSelector): ControllerRevision[];
  /**
   * Creates `revision` owned by `parent`. On a name clash with different
   * data, `collision.count` is raised and the name re-hashed, until a
   * create succeeds or an equal revision is found (which is returned).
   */
  createControllerRevision(parent: ObjectMeta, revision: ControllerRevision, collision: { count: number }): Promise<ControllerRevision>;
  deleteControllerRevision(revision: ControllerRevision): Promise<void>;
  /** Sets `revision.revision` to `newRevision`, retrying on conflict. */
  updateControllerRevision(revision: ControllerRevision, newRevision: number): Promise<ControllerRevision>;
  /** Adds a controllerRef to `parent` to an orphan revision; rejects when it has a controller. */
  adoptControllerRevision(parent: ObjectMeta, parentKind: GroupVersionKind, revision: ControllerRevision): Promise<ControllerRevision>;
  /** Removes `parent`'s ownerReference; a revision gone or no longer owned counts as released (resolves undefined). */
  releaseControllerRevision(parent: ObjectMeta, revision: ControllerRevision): Promise<ControllerRevision | undefined>;
}

/** Upstream's `retry.DefaultBackoff` steps (10 ms × 5ⁿ, 4 tries). */
const CONFLICT_RETRY_DELAYS_MS = [10, 50, 250];

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** History against the API server (upstream's `realHistory`). */
export class RealControllerHistory implements ControllerHistory {
  constructor(
    private readonly api: ControllerRevisionApi,
    private readonly lister: ControllerRevisionLister,
  ) {}

  listControllerRevisions(parent: ObjectMeta, selector: LabelSelector): ControllerRevision[] {
    const owned: ControllerRevision[] = [];
    for (const cr of this.lister.list(parent.namespace ?? "")) {
      if (!selector.matches(cr.metadata?.labels)) continue;
      const ref = getControllerOf(cr);
      if (!ref || ref.uid === parent.uid) owned.push(cr);
    }
    return owned;
  }

  async createControllerRevision(parent: ObjectMeta, revision: ControllerRevision, collision: { count: number }): Promise<ControllerRevision> {
    const clone = structuredClone(revision);
    const ns = parent.namespace ?? "";
    // Each clash with other data bumps the count and so the name; the hash label keeps its first value, as upstream.
    for (;;) {
      const hash = hashControllerRevision(revision, collision.count);
      clone.metadata = { ...clone.metadata, name: controllerRevisionName(parent.name ?? "", hash) };
      try {
        return await this.api.create(ns, clone);
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
      const exists = await this.api.get(ns, clone.metadata.name!);
      if (revisionRaw(exists) === revisionRaw(clone)) return exists;
      collision.count++;
    }
  }

  async deleteControllerRevision(revision: ControllerRevision): Promise<void> {
    await this.api.delete(revision.metadata?.namespace ?? "", revision.metadata?.name ?? "");
  }

  async updateControllerRevision(revision: ControllerRevision, newRevision: number): Promise<ControllerRevision> {
    let clone = structuredClone(revision);
    for (let attempt = 0; ; attempt++) {
      if (clone.revision === newRevision) return clone;
      clone.revision = newRevision;
      try {
        return await this.api.update(clone);
      } catch (err) {
        if (!isConflict(err) || attempt >= CONFLICT_RETRY_DELAYS_MS.length) throw err;
        const cached = this.lister.get(clone.metadata?.namespace ?? "", clone.metadata?.name ?? "");
        // A copy, so the shared cache is never changed.
        if (cached) clone = structuredClone(cached);
        await delay(CONFLICT_RETRY_DELAYS_MS[attempt]!);
      }
    }
  }

  async adoptControllerRevision(parent: ObjectMeta, parentKind: GroupVersionKind, revision: ControllerRevision): Promise<ControllerRevision> {
    const owner = getControllerOf(revision);
    if (owner) throw new Error(`attempt to adopt revision owned by ${JSON.stringify(owner)}`);
    const patch = {
      metadata: {
        ownerReferences: [
          { apiVersion: parentKind.apiVersion, kind: parentKind.kind, name: parent.name ?? "", uid: parent.uid ?? "", controller: true, blockOwnerDeletion: true },
        ],
        uid: revision.metadata?.uid ?? "",
      },
    };
    return this.api.patch(parent.namespace ?? "", revision.metadata?.name ?? "", patch);
  }

  async releaseControllerRevision(parent: ObjectMeta, revision: ControllerRevision): Promise<ControllerRevision | undefined> {
    try {
      return await this.api.patch(
        revision.metadata?.namespace ?? "",
        revision.metadata?.name ?? "",
        deleteOwnerRefStrategicMergePatch(revision.metadata?.uid ?? "", [parent.uid ?? ""]),
      );
    } catch (err) {
      // Gone, or no longer (or never) owned by the parent.
      if (isNotFound(err) || isInvalid(err)) return undefined;
      throw err;
    }
  }
}
