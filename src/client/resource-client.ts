/**
 * A client for one resource, addressed by group/version/resource as
 * client-go's dynamic client: builds the REST paths, maps each verb to its
 * request and decodes watch streams. Typed by the caller with
 * `kubernetes-types` (`new ResourceClient<Pod>(rest, PODS)`).
 */
import type { ListMeta, ObjectMeta } from "kubernetes-types/meta/v1.js";
import { type Status, StatusError } from "../machinery/status-error.js";
import type { Query, RestClient } from "./rest-client.js";
import { decodeWatchStream, type WatchEvent, WatchExpiredError } from "./watch.js";

/** The least every API object has. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

/** A list response. */
export interface KubeList<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: ListMeta;
  items: T[];
}

/** Which resource a client addresses. */
export interface ResourceDescriptor {
  /** API group; "" for the core group (`/api/v1`). */
  readonly group: string;
  readonly version: string;
  /** Plural resource name as in URLs, e.g. `pods`. */
  readonly resource: string;
  readonly namespaced: boolean;
  /** Kind of its objects, e.g. `Pod` (for messages and bodies the client builds). */
  readonly kind?: string;
}

/** Options of a LIST. */
export interface ListOptions {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly limit?: number;
  readonly continue?: string;
  readonly resourceVersion?: string;
  readonly resourceVersionMatch?: "Exact" | "NotOlderThan";
  readonly timeoutSeconds?: number;
  readonly signal?: AbortSignal;
}

/** Options of a WATCH. */
export interface WatchOptions {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Start after this version; "" or "0" starts with the current state as ADDED events. */
  readonly resourceVersion?: string;
  /** Server-side end of the watch; the server picks 30–60 min unless given. */
  readonly timeoutSeconds?: number;
  /** Ask for BOOKMARK events (default true). */
  readonly allowWatchBookmarks?: boolean;
  readonly sendInitialEvents?: boolean;
}

/** Options shared by writes. */
export interface WriteOptions {
  readonly dryRun?: boolean;
  readonly fieldManager?: string;
  readonly fieldValidation?: "Ignore" | "Warn" | "Strict";
  readonly signal?: AbortSignal;
}

/** The four patch formats the API server takes. */
export type PatchType = "json" | "merge" | "strategic" | "apply";

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  json: "application/json-patch+json",
  merge: "application/merge-patch+json",
  strategic: "application/strategic-merge-patch+json",
  apply: "application/apply-patch+yaml",
};

/** Options of a PATCH. */
export interface PatchOptions extends WriteOptions {
  readonly type: PatchType;
  /** Server-side apply only: take ownership of conflicting fields. */
  readonly force?: boolean;
  /** Patch a subresource, e.g. `status` or `scale`. */
  readonly subresource?: string;
}

/** Options of a DELETE, sent as a `DeleteOptions` body as client-go does. */
export interface DeleteOptions {
  readonly propagationPolicy?: "Orphan" | "Background" | "Foreground";
  readonly gracePeriodSeconds?: number;
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string };
  readonly dryRun?: boolean;
  readonly signal?: AbortSignal;
}

/** Options of a subresource write. */
export interface SubresourceOptions extends WriteOptions {
  /** POST unless given (binding, eviction); PUT for e.g. scale. */
  readonly method?: "POST" | "PUT";
}

/** What an informer needs from a resource: a ResourceClient is one. */
export interface ListerWatcher<T> {
  list(opts: ListOptions): Promise<KubeList<T>>;
  watch(opts: WatchOptions, signal?: AbortSignal): AsyncIterable<WatchEvent<T>>;
}

function writeQuery(opts: WriteOptions | undefined): Query {
  return { dryRun: opts?.dryRun ? "All" : undefined, fieldManager: opts?.fieldManager, fieldValidation: opts?.fieldValidation };
}

function seg(s: string): string {
  return encodeURIComponent(s);
}

/** CRUD, subresources and watch for one resource, optionally fixed to a namespace. */
export class ResourceClient<T extends KubeObject> implements ListerWatcher<T> {
  private readonly prefix: string;

  constructor(
    readonly rest: RestClient,
    readonly descriptor: ResourceDescriptor,
    /** The namespace requests go to; all namespaces (for list/watch) when absent. */
    readonly ns?: string,
    /** Accept headers for reads (get and watch: `object`; list: `list`); JSON objects unless given. */
    private readonly accept?: { readonly object: string; readonly list: string },
  ) {
    if (ns !== undefined && !descriptor.namespaced) throw new Error(`${descriptor.resource} is cluster-scoped: it has no namespace`);
    const d = descriptor;
    this.prefix = d.group === "" ? `/api/${d.version}` : `/apis/${d.group}/${d.version}`;
  }

  /** The same client, fixed to namespace `ns`. */
  namespace(ns: string): ResourceClient<T> {
    return new ResourceClient<T>(this.rest, this.descriptor, ns, this.accept);
  }

  /** `/api/v1/namespaces/NS/pods` (or all namespaces / cluster scope). */
  collectionPath(ns: string | undefined = this.ns): string {
    return ns && this.descriptor.namespaced ? `${this.prefix}/namespaces/${seg(ns)}/${this.descriptor.resource}` : `${this.prefix}/${this.descriptor.resource}`;
  }

  /** `/api/v1/namespaces/NS/pods/NAME[/SUB]`. */
  itemPath(name: string, subresource?: string, ns: string | undefined = this.ns): string {
    if (this.descriptor.namespaced && !ns) {
      throw new Error(`${this.descriptor.resource} is namespaced: address "${name}" through .namespace(ns)`);
    }
    if (!name) throw new Error(`a ${this.descriptor.resource} request needs a name`);
    return `${this.collectionPath(ns)}/${seg(name)}${subresource ? `/${subresource}` : ""}`;
  }

  /** The namespace a write of `obj` goes to: the client's, else the object's. */
  private nsOf(obj: KubeObject): string | undefined {
    if (!this.descriptor.namespaced) return undefined;
    const ns = this.ns ?? obj.metadata?.namespace;
    if (!ns) throw new Error(`${this.descriptor.resource} is namespaced: set metadata.namespace or use .namespace(ns)`);
    return ns;
  }

  private nameOf(obj: KubeObject): string {
    const name = obj.metadata?.name;
    if (!name) throw new Error(`${this.descriptor.resource} update needs metadata.name`);
    return name;
  }

  /** GET of one object (404 rejects as NotFound). */
  get(name: string, opts: { readonly resourceVersion?: string; readonly signal?: AbortSignal } = {}): Promise<T> {
    return this.rest.request<T>("GET", this.itemPath(name), {
      query: { resourceVersion: opts.resourceVersion },
      signal: opts.signal,
      ...(this.accept ? { headers: { Accept: this.accept.object } } : {}),
    });
  }

  /** One LIST request (one page when `limit` is set). */
  list(opts: ListOptions = {}): Promise<KubeList<T>> {
    return this.rest.request<KubeList<T>>("GET", this.collectionPath(), {
      query: {
        labelSelector: opts.labelSelector || undefined,
        fieldSelector: opts.fieldSelector || undefined,
        limit: opts.limit,
        continue: opts.continue || undefined,
        resourceVersion: opts.resourceVersion,
        resourceVersionMatch: opts.resourceVersionMatch,
        timeoutSeconds: opts.timeoutSeconds,
      },
      signal: opts.signal,
      ...(this.accept ? { headers: { Accept: this.accept.list } } : {}),
    });
  }

  /** Every page of a LIST (`limit` per page, 500 unless given), as one list. */
  async listAll(opts: ListOptions = {}): Promise<KubeList<T>> {
    const items: T[] = [];
    let page: KubeList<T>;
    let cont: string | undefined;
    do {
      page = await this.list({ ...opts, limit: opts.limit ?? 500, continue: cont });
      for (const item of page.items) items.push(item);
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return { ...page, metadata: { resourceVersion: page.metadata?.resourceVersion }, items };
  }

  /** POST of a new object, into the client's namespace or else the object's. */
  create(obj: T, opts?: WriteOptions): Promise<T> {
    return this.rest.request<T>("POST", this.collectionPath(this.nsOf(obj)), { query: writeQuery(opts), body: obj, signal: opts?.signal });
  }

  /** PUT of the whole object; its `metadata.resourceVersion` makes it conditional (409 on a stale one). */
  update(obj: T, opts?: WriteOptions): Promise<T> {
    return this.rest.request<T>("PUT", this.itemPath(this.nameOf(obj), undefined, this.nsOf(obj)), {
      query: writeQuery(opts),
      body: obj,
      signal: opts?.signal,
    });
  }

  /** PUT to the status subresource. */
  updateStatus(obj: T, opts?: WriteOptions): Promise<T> {
    return this.rest.request<T>("PUT", this.itemPath(this.nameOf(obj), "status", this.nsOf(obj)), {
      query: writeQuery(opts),
      body: obj,
      signal: opts?.signal,
    });
  }

  /**
   * PATCH in one of the four formats. `patch` is the JSON patch array, the
   * merge/strategic patch object, or the apply configuration (an object, or
   * YAML text); apply needs `fieldManager`.
   */
  patch(name: string, patch: unknown, opts: PatchOptions): Promise<T> {
    if (opts.type === "apply" && !opts.fieldManager) throw new Error("server-side apply needs a fieldManager");
    if (opts.force && opts.type !== "apply") throw new Error("force is only allowed for server-side apply");
    return this.rest.request<T>("PATCH", this.itemPath(name, opts.subresource), {
      query: { ...writeQuery(opts), force: opts.force ? "true" : undefined },
      body: patch,
      contentType: PATCH_CONTENT_TYPES[opts.type],
      signal: opts.signal,
    });
  }

  /**
   * DELETE; resolves once the server accepted it (the object may live on
   * while finalizers or a grace period run). 404 rejects as NotFound.
   */
  async delete(name: string, opts: DeleteOptions = {}): Promise<void> {
    await this.rest.request<T | Status>("DELETE", this.itemPath(name), { body: deleteBody(opts), signal: opts.signal });
  }

  /** DELETE of every object matching the selectors (deletecollection). */
  async deleteCollection(opts: DeleteOptions & Pick<ListOptions, "labelSelector" | "fieldSelector"> = {}): Promise<void> {
    await this.rest.request("DELETE", this.collectionPath(), {
      query: { labelSelector: opts.labelSelector || undefined, fieldSelector: opts.fieldSelector || undefined },
      body: deleteBody(opts),
      signal: opts.signal,
    });
  }

  /** GET of a subresource, e.g. `scale`. */
  getSubresource<R>(name: string, subresource: string, opts: { readonly signal?: AbortSignal } = {}): Promise<R> {
    return this.rest.request<R>("GET", this.itemPath(name, subresource), { signal: opts.signal });
  }

  /**
   * POST (or PUT) to a subresource: `pods/binding`, `pods/eviction`,
   * `deployments/scale`…; resolves with the server's answer (often a Status).
   */
  subresource<R = Status>(name: string, subresource: string, body: unknown, opts: SubresourceOptions = {}): Promise<R> {
    return this.rest.request<R>(opts.method ?? "POST", this.itemPath(name, subresource), {
      query: writeQuery(opts),
      body,
      signal: opts.signal,
    });
  }

  /**
   * Watches the collection (narrowed by selectors). Iterate the result;
   * breaking out or aborting `signal` closes the connection, and an abort
   * ends the iteration quietly. A 410 (as an HTTP answer or an ERROR event)
   * throws {@link WatchExpiredError}; other ERROR events are yielded.
   */
  async *watch(opts: WatchOptions = {}, signal?: AbortSignal): AsyncGenerator<WatchEvent<T>> {
    if (signal?.aborted) return;
    const ac = new AbortController();
    const onAbort = () => ac.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    let res: Awaited<ReturnType<RestClient["stream"]>> | undefined;
    try {
      try {
        res = await this.rest.stream("GET", this.collectionPath(), {
          query: {
            watch: "1",
            allowWatchBookmarks: opts.allowWatchBookmarks === false ? undefined : "true",
            resourceVersion: opts.resourceVersion,
            timeoutSeconds: opts.timeoutSeconds,
            labelSelector: opts.labelSelector || undefined,
            fieldSelector: opts.fieldSelector || undefined,
            sendInitialEvents: opts.sendInitialEvents ? "true" : undefined,
          },
          signal: ac.signal,
          ...(this.accept ? { headers: { Accept: this.accept.object } } : {}),
        });
      } catch (err) {
        if (err instanceof StatusError && err.code === 410 && !(err instanceof WatchExpiredError)) throw new WatchExpiredError(err.status);
        throw err;
      }
      res.setEncoding("utf8");
      yield* decodeWatchStream<T>(res);
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      ac.abort();
      res?.destroy();
    }
  }
}

function deleteBody(opts: DeleteOptions): Record<string, unknown> | undefined {
  const body: Record<string, unknown> = {};
  if (opts.propagationPolicy) body.propagationPolicy = opts.propagationPolicy;
  if (opts.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = opts.gracePeriodSeconds;
  if (opts.preconditions) body.preconditions = opts.preconditions;
  if (opts.dryRun) body.dryRun = ["All"];
  if (Object.keys(body).length === 0) return undefined;
  return { kind: "DeleteOptions", apiVersion: "v1", ...body };
}
