/**
 * Serves resource requests (`/api/v1/...`, `/apis/G/V/...`): get, list,
 * watch, create, update, patch, delete, deletecollection, and the status
 * and scale subresources, over the resource's ObjectStore.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { apiVersionOf, type ResourceType } from "../../api/resources.js";
import { parseLabelSelector, SelectorParseError } from "../../machinery/labels.js";
import { badRequest, methodNotSupported, notFound, type Status, StatusError } from "../../machinery/status-error.js";
import type { AdmissionChain, Operation } from "../admission/admission.js";
import type { UserInfo } from "../auth/authn.js";
import { applyPatch, updateManagedFields } from "../apply/apply.js";
import { parseFieldSelector } from "../field-selectors.js";
import { bindPod, evictPod } from "./pod-subresources.js";
import { decideUnknownFields, fieldValidationOf, pruneUnknownFields } from "../field-validation.js";
import { PROTOBUF_MEDIA_TYPE } from "../../api/protobuf/envelope.js";
import { BUILTIN_MEDIA_TYPES, contentTypeOf, decodeObject, JSON_MEDIA_TYPES, readBody, requireObject } from "../http/body.js";
import { send, sendJson, toStatus } from "../http/respond.js";
import { negotiate, type Rendering } from "../negotiation.js";
import { applyJsonPatch } from "../patch/json-patch.js";
import { applyMergePatch } from "../patch/merge-patch.js";
import type { ObjectStore } from "../registry/object-store.js";
import type { DeleteOptions, KList, KObject } from "../registry/types.js";
import type { RequestInfo } from "../request-info.js";

/** Renders objects as a server-side Table; provided by the printers. */
export type TablePrinter = (resource: ResourceType, objects: readonly KObject[], list: KList["metadata"] | undefined, rendering: Extract<Rendering, { kind: "table" }>) => object;

/** Applies a strategic merge patch for a resource's kind; provided by the patch engine. */
export type StrategicPatcher = (resource: ResourceType, current: KObject, patch: unknown) => KObject;

export interface ResourceHandlerOptions {
  /** Finds the store of group/version/plural. */
  readonly lookup: (group: string, version: string, plural: string) => ObjectStore | undefined;
  readonly admission: AdmissionChain;
  readonly printTable?: TablePrinter;
  readonly strategicPatch?: StrategicPatcher;
  /** Watch timeout when the client gives none (upstream: 30–60 min at random). */
  readonly defaultWatchTimeoutSeconds?: () => number;
  readonly bookmarkIntervalMs?: number;
}

interface Request {
  readonly info: RequestInfo;
  readonly url: URL;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly user: UserInfo;
}

const PATCH_TYPES = [
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
  "application/apply-patch+yaml",
];

function dryRunOf(url: URL): boolean {
  const values = url.searchParams.getAll("dryRun");
  for (const v of values) {
    if (v !== "All") throw badRequest(`dryRun: Unsupported value: "${v}": supported values: "All"`);
  }
  return values.length > 0;
}

function intParam(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw badRequest(`invalid value for ${name}: ${JSON.stringify(v)}`);
  return n;
}

function selectors(url: URL, r: ResourceType) {
  try {
    const labelSelector = parseLabelSelector(url.searchParams.get("labelSelector") ?? undefined);
    const fieldSelector = parseFieldSelector(url.searchParams.get("fieldSelector") ?? undefined, r.group, r.plural);
    return { labelSelector, fieldSelector };
  } catch (err) {
    if (err instanceof SelectorParseError) {
      throw badRequest(err.message.startsWith("unable to parse requirement") ? err.message : `unable to parse requirement: ${err.message}`);
    }
    throw err;
  }
}

/** Lists larger than this are written in batches of about this size. */
const STREAM_BATCH_BYTES = 1 << 20;

/** An object as `PartialObjectMetadata` (only its metadata), as upstream answers `as=PartialObjectMetadata(List)`. */
function partialObjectMetadata(obj: KObject, version: string): object {
  return { kind: "PartialObjectMetadata", apiVersion: `meta.k8s.io/${version}`, metadata: obj.metadata ?? {} };
}

/** Watched objects' JSON, kept while the object lives: watchers of one event share its object (see ObjectStore.watch). */
const watchJson = new WeakMap<object, Buffer>();
const LINE_END = Buffer.from("}\n");
const linePrefixes = new Map<string, Buffer>();

/**
 * One line of a watch stream, as bytes; an object's JSON is built once
 * however many watchers send it, from its stored bytes when the store has
 * them (no JSON.stringify, no UTF-16 round trip).
 */
function watchLine(type: string, object: unknown, store: ObjectStore): Buffer {
  if (object === null || typeof object !== "object") return Buffer.from(`${JSON.stringify({ type, object })}\n`);
  let json = watchJson.get(object);
  if (json === undefined) {
    json = store.storedJson(object as KObject) ?? Buffer.from(JSON.stringify(object));
    // Kept while the object lives: in its own memory, not pinning a slab of Buffer's shared pool.
    if (json.buffer.byteLength !== json.byteLength) {
      const own = Buffer.allocUnsafeSlow(json.byteLength);
      json.copy(own);
      json = own;
    }
    watchJson.set(object, json);
  }
  let prefix = linePrefixes.get(type);
  if (prefix === undefined) {
    prefix = Buffer.from(`{"type":${JSON.stringify(type)},"object":`);
    linePrefixes.set(type, prefix);
  }
  return Buffer.concat([prefix, json, LINE_END], prefix.length + json.length + LINE_END.length);
}

export class ResourceHandler {
  constructor(private readonly opts: ResourceHandlerOptions) {}

  async handle(r: Request): Promise<void> {
    const { info } = r;
    const store = this.opts.lookup(info.group, info.version, info.resource);
    if (!store) {
      throw notFound({ group: info.group, resource: info.resource }, info.name || info.resource);
    }
    const resource = store.resource;
    const ns = resource.namespaced ? info.namespace || undefined : undefined;
    if (resource.namespaced && info.name && !ns && info.verb !== "list" && info.verb !== "watch") {
      throw notFound({ group: info.group, resource: info.resource }, info.name);
    }
    const sub = info.subresource;
    if (sub && !(resource.subresources ?? []).some((s) => s.name === sub)) {
      throw notFound({ group: info.group, resource: `${info.resource}/${sub}` }, info.name);
    }
    if (resource.group === "" && resource.plural === "pods" && (sub === "binding" || sub === "eviction") && info.verb === "create") {
      return this.podSubresource(r, store, ns!, sub);
    }
    if (resource.group === "" && resource.plural === "bindings" && info.verb === "create") {
      // The legacy bindings resource: the pod is named in the body.
      const body = await this.readObject(r);
      const pods = this.opts.lookup("", "v1", "pods")!;
      return send(r.res, 201, await bindPod(pods, ns!, body.metadata?.name ?? "", body));
    }
    if (sub === "finalize" && info.verb === "update") return this.update(r, store, ns);
    if (sub && sub !== "status" && sub !== "scale") {
      throw methodNotSupported({ group: info.group, resource: `${info.resource}/${sub}` }, info.verb);
    }
    switch (info.verb) {
      case "get":
        return this.get(r, store, ns);
      case "list":
        return this.list(r, store, ns);
      case "watch":
        return this.watch(r, store, ns);
      case "create":
        if (info.name) throw methodNotSupported({ group: info.group, resource: info.resource }, "create");
        return this.create(r, store, ns);
      case "update":
        return this.update(r, store, ns);
      case "patch":
        return this.patch(r, store, ns);
      case "delete":
        return this.delete(r, store, ns);
      case "deletecollection":
        return this.deleteCollection(r, store, ns);
      default:
        throw methodNotSupported({ group: info.group, resource: info.resource }, info.verb);
    }
  }

  private async podSubresource(r: Request, pods: ObjectStore, ns: string, sub: "binding" | "eviction"): Promise<void> {
    const body = await this.readObject(r);
    await this.admit(r, pods, "CREATE", body, undefined, dryRunOf(r.url));
    if (sub === "binding") return send(r.res, 201, await bindPod(pods, ns, r.info.name, body));
    const pdbs = this.opts.lookup("policy", "v1", "poddisruptionbudgets")!;
    send(r.res, 201, await evictPod(pods, pdbs, ns, r.info.name, body));
  }

  private rendering(r: Request): Rendering {
    const rendering = negotiate(r.req.headers.accept, { table: !!this.opts.printTable });
    const include = r.url.searchParams.get("includeObject");
    if (rendering.kind === "table" && include) {
      if (!["None", "Metadata", "Object"].includes(include)) {
        throw badRequest(`includeObject: Unsupported value: "${include}": supported values: "None", "Metadata", "Object"`);
      }
      return { ...rendering, includeObject: include };
    }
    return rendering;
  }

  private respondObject(r: Request, store: ObjectStore, code: number, obj: KObject, rendering: Rendering): void {
    if (rendering.kind === "partial-metadata") {
      send(r.res, code, partialObjectMetadata(obj, rendering.version));
      return;
    }
    if (rendering.kind === "table" && this.opts.printTable) {
      send(r.res, code, this.opts.printTable(store.resource, [obj], undefined, rendering));
      return;
    }
    // A just-written object's JSON is the bytes the store wrote.
    const stored = rendering.kind === "json" ? store.storedJson(obj) : undefined;
    if (stored) sendJson(r.res, code, stored);
    else send(r.res, code, obj, rendering);
  }

  private async admit(r: Request, store: ObjectStore, op: Operation, object: KObject | undefined, oldObject: KObject | undefined, dryRun: boolean): Promise<void> {
    const warnings: string[] = [];
    try {
      await this.opts.admission.run({
        operation: op,
        resource: store.resource,
        subresource: r.info.subresource,
        namespace: r.info.namespace,
        name: r.info.name || object?.metadata?.name || "",
        object,
        oldObject,
        user: r.user,
        dryRun,
        warnings,
      });
    } finally {
      // Upstream sends admission warnings with the response, whether or not the request then succeeds.
      if (!r.res.headersSent) for (const w of warnings) r.res.appendHeader("Warning", `299 - ${JSON.stringify(w)}`);
    }
  }

  /** The field manager of a write: the query parameter, else the User-Agent's program name, as upstream. */
  private manager(r: Request): string {
    const m = r.url.searchParams.get("fieldManager");
    if (m !== null) {
      if (m.length > 128) throw badRequest(`fieldManager: Too long: may not be more than 128 bytes`);
      return m;
    }
    const ua = r.req.headers["user-agent"] ?? "";
    return ua.split("/")[0]?.trim() || "unknown";
  }

  /** Records the write's changed fields under its manager's Update entry in managedFields. */
  private track(r: Request, store: ObjectStore, old: KObject | undefined, next: KObject, subresource?: string): KObject {
    // Ownership is computed on the object as it will be stored: defaults included.
    if (!subresource) store.applyDefaults(next);
    return updateManagedFields({
      old,
      next,
      manager: this.manager(r),
      operation: "Update",
      apiVersion: apiVersionOf(store.resource),
      definition: store.resource.definition,
      now: new Date(),
      ...(subresource ? { subresource } : {}),
      ...(hasStatusSubresource(store.resource) ? {} : { resetFields: [] }),
    });
  }

  /** Server-side apply: create or merge the applied configuration, owning its fields. */
  private async apply(r: Request, store: ObjectStore, ns: string | undefined, rendering: Rendering, dryRun: boolean): Promise<void> {
    const body = await readBody(r.req);
    const applied = requireObject(decodeObject(body, "application/apply-patch+yaml", ["application/apply-patch+yaml"])) as KObject;
    this.validateFields(r, store, applied);
    defaultPortProtocols(applied);
    const manager = r.url.searchParams.get("fieldManager") ?? "";
    const force = r.url.searchParams.get("force") === "true";
    const name = r.info.name;
    if (applied.metadata?.name !== undefined && applied.metadata.name !== name) {
      throw badRequest(`the name of the object (${applied.metadata.name}) does not match the name on the URL (${name})`);
    }
    if (ns && applied.metadata?.namespace !== undefined && applied.metadata.namespace !== ns) {
      throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
    }
    const sub = r.info.subresource === "status" || r.info.subresource === "finalize" ? r.info.subresource : undefined;
    const common = {
      applied,
      manager,
      force,
      definition: store.resource.definition,
      apiVersion: apiVersionOf(store.resource),
      ...(sub ? { subresource: sub } : {}),
      ...(hasStatusSubresource(store.resource) ? {} : { resetFields: [] }),
    };
    let existing: KObject | undefined;
    try {
      existing = await store.get(ns, name);
    } catch (err) {
      if (!(err instanceof StatusError && err.reason === "NotFound")) throw err;
    }
    if (!existing) {
      if (sub) throw notFound({ group: store.resource.group, resource: store.resource.plural }, name);
      const obj = applyPatch({ ...common, live: undefined, now: new Date() });
      obj.metadata = { ...(obj.metadata ?? {}), name };
      await this.admit(r, store, "CREATE", obj, undefined, dryRun);
      const created = await store.create(ns, obj, { dryRun, fieldManager: manager });
      return this.respondObject(r, store, 201, created, rendering);
    }
    const result = await store.guaranteedUpdate(
      ns,
      name,
      async (current) => {
        const next = applyPatch({ ...common, live: current, now: new Date() });
        await this.admit(r, store, "UPDATE", next, current, dryRun);
        return next;
      },
      { dryRun, subresource: sub },
    );
    this.respondObject(r, store, 200, result, rendering);
  }

  /** Server-side field validation: Strict throws, Warn adds Warning headers. */
  private validateFields(r: Request, store: ObjectStore, obj: KObject): void {
    const mode = fieldValidationOf(r.url);
    const { kind, version, definition } = store.resource;
    // One walk finds and drops the fields the kind does not have (they are never
    // stored, as upstream's typed decoding drops them); Strict refuses them.
    // Custom resources are pruned by their strategy, against their own schema.
    const unknown = store.resource.custom ? (mode === "Ignore" ? [] : (store.unknownFields(obj) ?? [])) : pruneUnknownFields(obj, definition);
    const warnings = decideUnknownFields(unknown, kind, version, mode);
    if (warnings.length > 0 && !r.res.headersSent) {
      r.res.setHeader("Warning", warnings.map((w) => `299 - ${JSON.stringify(w)}`));
    }
  }

  // ---- reads ----

  private async get(r: Request, store: ObjectStore, ns: string | undefined): Promise<void> {
    const rendering = this.rendering(r);
    const obj = await store.get(ns, r.info.name);
    if (r.info.subresource === "scale") return send(r.res, 200, toScale(obj, store.resource), rendering);
    this.respondObject(r, store, 200, obj, rendering);
  }

  private async list(r: Request, store: ObjectStore, ns: string | undefined): Promise<void> {
    const rendering = this.rendering(r);
    const { labelSelector, fieldSelector } = selectors(r.url, store.resource);
    const opts = {
      labelSelector,
      fieldSelector,
      limit: intParam(r.url, "limit"),
      continue: r.url.searchParams.get("continue") ?? undefined,
      resourceVersion: r.url.searchParams.get("resourceVersion") ?? undefined,
      resourceVersionMatch: r.url.searchParams.get("resourceVersionMatch") ?? undefined,
    };
    if (rendering.kind === "json") return this.listJson(r, store, ns, opts);
    if (rendering.kind === "partial-metadata") {
      const list = await store.listReadOnly(ns, opts);
      return send(r.res, 200, {
        kind: "PartialObjectMetadataList",
        apiVersion: `meta.k8s.io/${rendering.version}`,
        metadata: list.metadata,
        items: list.items.map((o) => partialObjectMetadata(o, rendering.version)),
      });
    }
    if (rendering.kind === "table" && this.opts.printTable) {
      const list = await store.listReadOnly(ns, opts);
      return send(r.res, 200, this.opts.printTable(store.resource, list.items, list.metadata, rendering));
    }
    send(r.res, 200, await store.list(ns, opts), rendering);
  }

  /** JSON lists straight from the stored bytes (the common case, and the large one). */
  private async listJson(r: Request, store: ObjectStore, ns: string | undefined, opts: Parameters<ObjectStore["listJson"]>[1]): Promise<void> {
    const chunks = await store.listJsonChunks(ns, opts);
    let length = 0;
    for (const c of chunks) length += c.byteLength;
    r.res.writeHead(200, { "Content-Type": "application/json", "Content-Length": length });
    if (length <= STREAM_BATCH_BYTES) {
      r.res.end(Buffer.concat(chunks));
      return;
    }
    // Large lists go out in ~1 MB writes with a turn between them, so the client
    // receives and decodes while the rest is still encrypted and written.
    let batch: Uint8Array[] = [];
    let batchBytes = 0;
    for (const c of chunks) {
      batch.push(c);
      batchBytes += c.byteLength;
      if (batchBytes < STREAM_BATCH_BYTES) continue;
      if (r.res.destroyed) return;
      r.res.write(Buffer.concat(batch, batchBytes));
      batch = [];
      batchBytes = 0;
      await new Promise((resolve) => setImmediate(resolve));
    }
    r.res.end(batch.length > 0 ? Buffer.concat(batch, batchBytes) : undefined);
  }

  private async watch(r: Request, store: ObjectStore, ns: string | undefined): Promise<void> {
    const rendering = this.rendering(r);
    const { labelSelector } = selectors(r.url, store.resource);
    let { fieldSelector } = selectors(r.url, store.resource);
    if (r.info.name) {
      // A watch on one object is a watch of the collection narrowed to its name.
      fieldSelector = parseFieldSelector(`metadata.name=${r.info.name}`, store.resource.group, store.resource.plural);
    }
    const timeoutSeconds = intParam(r.url, "timeoutSeconds") ?? this.opts.defaultWatchTimeoutSeconds?.() ?? 1800;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutSeconds * 1000);
    const onClose = () => ac.abort();
    r.res.on("close", onClose);
    const bookmarks = r.url.searchParams.get("allowWatchBookmarks") === "true";
    const events = store.watch(ns, {
      labelSelector,
      fieldSelector,
      resourceVersion: r.url.searchParams.get("resourceVersion") ?? undefined,
      signal: ac.signal,
      bookmarkIntervalMs: bookmarks ? (this.opts.bookmarkIntervalMs ?? 60_000) : undefined,
      sendInitialEvents: r.url.searchParams.get("sendInitialEvents") === "true",
    });
    // Headers go out at once, as upstream: a client waits for them before it
    // reports the watch as started; later failures become ERROR events.
    r.res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked", "Cache-Control": "no-cache, private" });
    r.res.flushHeaders();
    try {
      for await (const ev of events) {
        if (ac.signal.aborted) break;
        let object: unknown = ev.object;
        if (rendering.kind === "table" && this.opts.printTable && ev.type !== "ERROR" && ev.type !== "BOOKMARK") {
          object = this.opts.printTable(store.resource, [ev.object as KObject], undefined, rendering);
        } else if (rendering.kind === "partial-metadata" && ev.type !== "ERROR") {
          object = partialObjectMetadata(ev.object as KObject, rendering.version);
        }
        r.res.write(watchLine(ev.type, object, store));
        if (ev.type === "ERROR") break;
      }
    } catch (err) {
      r.res.write(JSON.stringify({ type: "ERROR", object: toStatus(err) }) + "\n");
    } finally {
      clearTimeout(timer);
      r.res.off("close", onClose);
      ac.abort();
    }
    r.res.end();
  }

  // ---- writes ----

  /** The request's object; built-in kinds also take protobuf, custom resources JSON/YAML only (as upstream). */
  private async readObject(r: Request, custom = false): Promise<KObject> {
    const body = await readBody(r.req);
    return requireObject(decodeObject(body, contentTypeOf(r.req), custom ? JSON_MEDIA_TYPES : BUILTIN_MEDIA_TYPES)) as KObject;
  }

  private async create(r: Request, store: ObjectStore, ns: string | undefined): Promise<void> {
    const rendering = this.rendering(r);
    const dryRun = dryRunOf(r.url);
    const obj = await this.readObject(r, store.resource.custom !== undefined);
    this.validateFields(r, store, obj);
    if (store.resource.namespaced && !ns) throw badRequest("the server could not find the requested resource: a namespaced resource is created under /namespaces/NAMESPACE/");
    obj.metadata ??= {};
    if (ns) obj.metadata.namespace ??= ns;
    await this.admit(r, store, "CREATE", obj, undefined, dryRun);
    const created = await store.create(ns, this.track(r, store, undefined, obj), { dryRun, fieldManager: this.manager(r), bodyOwned: true });
    this.respondObject(r, store, 201, created, rendering);
  }

  private async update(r: Request, store: ObjectStore, ns: string | undefined): Promise<void> {
    const rendering = this.rendering(r);
    const dryRun = dryRunOf(r.url);
    let obj = await this.readObject(r, store.resource.custom !== undefined);
    this.validateFields(r, store, obj);
    if (r.info.subresource === "scale") {
      const current = await store.get(ns, r.info.name);
      obj = fromScale(obj, current, store.resource);
    }
    const old = await store.get(ns, r.info.name).catch(() => undefined);
    await this.admit(r, store, old ? "UPDATE" : "CREATE", obj, old, dryRun);
    const sub = r.info.subresource === "status" || r.info.subresource === "finalize" ? r.info.subresource : undefined;
    obj = this.track(r, store, old, obj, r.info.subresource || undefined);
    const { object, created } = await store.update(ns, r.info.name, obj, { dryRun, subresource: sub });
    if (r.info.subresource === "scale") return send(r.res, 200, toScale(object, store.resource), rendering);
    this.respondObject(r, store, created ? 201 : 200, object, rendering);
  }

  private async patch(r: Request, store: ObjectStore, ns: string | undefined): Promise<void> {
    const rendering = this.rendering(r);
    const dryRun = dryRunOf(r.url);
    const type = contentTypeOf(r.req);
    if (!PATCH_TYPES.includes(type)) {
      throw new StatusError({
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: `the body of the request was in an unknown format - accepted media types include: ${PATCH_TYPES.join(", ")}`,
        reason: "UnsupportedMediaType",
        code: 415,
      });
    }
    if (type === "application/apply-patch+yaml") {
      if (r.info.subresource === "scale") throw methodNotSupported({ group: store.resource.group, resource: `${store.resource.plural}/scale` }, "apply");
      return this.apply(r, store, ns, rendering, dryRun);
    }
    if (r.url.searchParams.has("force")) throw badRequest("force: Forbidden: may not be specified for non-apply patch");
    const body = await readBody(r.req);
    const patch = decodeObject(body, "application/json", ["application/json"]);
    const scale = r.info.subresource === "scale";
    const sub = r.info.subresource === "status" || r.info.subresource === "finalize" ? r.info.subresource : undefined;
    const result = await store.guaranteedUpdate(
      ns,
      r.info.name,
      async (current) => {
        const target: KObject = scale ? (toScale(current, store.resource) as KObject) : current;
        let patched: KObject;
        if (type === "application/json-patch+json") patched = requireObject(applyJsonPatch(target, patch)) as KObject;
        else if (type === "application/merge-patch+json") patched = requireObject(applyMergePatch(target, requireObject(patch))) as KObject;
        else {
          if (!this.opts.strategicPatch || scale) {
            throw new StatusError({
              kind: "Status",
              apiVersion: "v1",
              metadata: {},
              status: "Failure",
              message: `strategic merge patch is not supported for ${store.resource.plural}${scale ? "/scale" : ""}; use a JSON merge patch`,
              reason: "UnsupportedMediaType",
              code: 415,
            });
          }
          patched = this.opts.strategicPatch(store.resource, target, requireObject(patch));
        }
        if (!scale) this.validateFields(r, store, patched);
        const next = scale ? fromScale(patched, current, store.resource) : patched;
        await this.admit(r, store, "UPDATE", next, current, dryRun);
        return this.track(r, store, current, next, r.info.subresource || undefined);
      },
      { dryRun, subresource: sub },
    );
    if (scale) return send(r.res, 200, toScale(result, store.resource), rendering);
    this.respondObject(r, store, 200, result, rendering);
  }

  private async deleteOptions(r: Request): Promise<DeleteOptions> {
    const body = await readBody(r.req);
    let fromBody: Record<string, unknown> = {};
    if (body.length > 0 && body.toString().trim() !== "") {
      // client-go 1.32+ sends DeleteOptions as protobuf; other clients send JSON whatever their Content-Type says.
      const type = contentTypeOf(r.req) === PROTOBUF_MEDIA_TYPE ? PROTOBUF_MEDIA_TYPE : "application/json";
      fromBody = requireObject(decodeObject(body, type, ["application/json", PROTOBUF_MEDIA_TYPE]));
    }
    const grace = intParam(r.url, "gracePeriodSeconds") ?? (fromBody.gracePeriodSeconds as number | undefined);
    let policy = (r.url.searchParams.get("propagationPolicy") ?? fromBody.propagationPolicy) as string | undefined;
    const orphan = r.url.searchParams.get("orphanDependents") ?? fromBody.orphanDependents;
    if (!policy && (orphan === true || orphan === "true")) policy = "Orphan";
    if (policy && !["Orphan", "Background", "Foreground"].includes(policy)) {
      throw badRequest(`propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`);
    }
    const dryRunBody = fromBody.dryRun as string[] | undefined;
    return {
      dryRun: dryRunOf(r.url) || (Array.isArray(dryRunBody) && dryRunBody.includes("All")),
      gracePeriodSeconds: grace,
      propagationPolicy: policy as DeleteOptions["propagationPolicy"],
      preconditions: fromBody.preconditions as DeleteOptions["preconditions"],
    };
  }

  private async delete(r: Request, store: ObjectStore, ns: string | undefined): Promise<void> {
    const rendering = this.rendering(r);
    const opts = await this.deleteOptions(r);
    const current = await store.get(ns, r.info.name);
    await this.admit(r, store, "DELETE", undefined, current, !!opts.dryRun);
    const { object, deleted } = await store.delete(ns, r.info.name, opts);
    if (!deleted) return this.respondObject(r, store, 202, object, rendering);
    if (store.returnsDeletedObject) return this.respondObject(r, store, 200, object, rendering);
    const status: Status = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Success",
      details: { name: r.info.name, group: store.resource.group, kind: store.resource.plural, uid: object.metadata?.uid },
      code: 200,
    };
    send(r.res, 200, status, rendering);
  }

  private async deleteCollection(r: Request, store: ObjectStore, ns: string | undefined): Promise<void> {
    const rendering = this.rendering(r);
    const opts = await this.deleteOptions(r);
    const { labelSelector, fieldSelector } = selectors(r.url, store.resource);
    const list = await store.list(ns, { labelSelector, fieldSelector });
    const out: KObject[] = [];
    for (const item of list.items) {
      const name = item.metadata!.name!;
      const itemNs = item.metadata!.namespace;
      try {
        await this.opts.admission.run({ operation: "DELETE", resource: store.resource, subresource: "", namespace: itemNs ?? "", name, oldObject: item, user: r.user, dryRun: !!opts.dryRun });
        out.push((await store.delete(itemNs, name, opts)).object);
      } catch (err) {
        if (err instanceof StatusError && err.reason === "NotFound") continue;
        throw err;
      }
    }
    send(r.res, 200, { ...list, items: out }, rendering);
  }
}

/**
 * Defaults `protocol: TCP` on every `ports` item of an applied configuration:
 * it is a list-map key of container, Service and endpoint ports, so upstream
 * fills it before merging (the one defaulted key field among built-in kinds).
 */
function defaultPortProtocols(v: unknown, field = ""): void {
  if (Array.isArray(v)) {
    for (const item of v) {
      if (field === "ports" && item !== null && typeof item === "object" && !Array.isArray(item)) {
        const port = item as Record<string, unknown>;
        if (port.protocol === undefined) port.protocol = "TCP";
      }
      defaultPortProtocols(item);
    }
    return;
  }
  if (v === null || typeof v !== "object") return;
  for (const [k, child] of Object.entries(v as Record<string, unknown>)) defaultPortProtocols(child, k);
}

function hasStatusSubresource(r: ResourceType): boolean {
  return (r.subresources ?? []).some((s) => s.name === "status");
}

/** The autoscaling/v1 Scale view of a scalable object. */
export function toScale(obj: KObject, r: ResourceType): object {
  const spec = (obj.spec ?? {}) as { replicas?: number; selector?: ScaleSelectorObject | Record<string, string> };
  const status = (obj.status ?? {}) as { replicas?: number };
  const selector =
    r.kind === "ReplicationController"
      ? scaleSelectorString({ matchLabels: spec.selector as Record<string, string> | undefined })
      : scaleSelectorString(spec.selector as ScaleSelectorObject | undefined);
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: {
      name: obj.metadata?.name,
      namespace: obj.metadata?.namespace,
      uid: obj.metadata?.uid,
      resourceVersion: obj.metadata?.resourceVersion,
      creationTimestamp: obj.metadata?.creationTimestamp,
    },
    spec: { replicas: spec.replicas ?? 0 },
    status: {
      replicas: status.replicas ?? 0,
      ...(selector ? { selector } : {}),
    },
  };
}

interface ScaleSelectorObject {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/**
 * A label selector as the Scale's `status.selector` carries it: upstream's
 * `metav1.LabelSelectorAsSelector(sel).String()`, requirements sorted by
 * key (`app=web,tier in (a,b),!canary`); "" for none.
 */
export function scaleSelectorString(sel: ScaleSelectorObject | undefined): string {
  const reqs: { key: string; text: string }[] = [];
  for (const [k, v] of Object.entries(sel?.matchLabels ?? {})) reqs.push({ key: k, text: `${k}=${v}` });
  for (const e of sel?.matchExpressions ?? []) {
    const values = [...(e.values ?? [])].sort().join(",");
    if (e.operator === "In") reqs.push({ key: e.key, text: `${e.key} in (${values})` });
    else if (e.operator === "NotIn") reqs.push({ key: e.key, text: `${e.key} notin (${values})` });
    else if (e.operator === "Exists") reqs.push({ key: e.key, text: e.key });
    else if (e.operator === "DoesNotExist") reqs.push({ key: e.key, text: `!${e.key}` });
  }
  return reqs
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((r) => r.text)
    .join(",");
}

/** Applies a Scale body's replicas to the object it scales. */
export function fromScale(scale: KObject, current: KObject, r: ResourceType): KObject {
  if (scale.kind !== undefined && scale.kind !== "Scale") throw badRequest(`the kind in the data (${scale.kind}) does not match the expected kind (Scale)`);
  const replicas = (scale.spec as { replicas?: unknown } | undefined)?.replicas;
  if (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0) {
    throw badRequest("spec.replicas: Invalid value: must be a non-negative integer");
  }
  const next = structuredClone(current);
  next.spec = { ...((next.spec as object) ?? {}), replicas };
  next.metadata!.resourceVersion = scale.metadata?.resourceVersion ?? current.metadata?.resourceVersion;
  next.apiVersion = apiVersionOf(r);
  return next;
}
