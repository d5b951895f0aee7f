/**
 * Server-side apply and managedFields tracking, as upstream's fieldmanager
 * (k8s.io/apimachinery/pkg/util/managedfields) drives structured-merge-diff:
 *
 * - {@link applyPatch}: the applied configuration's field set becomes the
 *   manager's `Apply` entry; fields other managers own that the apply would
 *   change are conflicts (409) unless `force`, which takes them over; fields
 *   the manager applied before, no longer applies and nobody else owns are
 *   removed; list maps merge by key; atomic values are replaced.
 * - {@link updateManagedFields}: create/update/patch record an `Update` entry
 *   per (manager, apiVersion) for the fields they changed, taking those fields
 *   from other managers.
 *
 * Both drop the server-owned metadata (apiVersion, kind, metadata.name,
 * namespace, uid, resourceVersion, generation, creationTimestamp, selfLink,
 * managedFields) from the sets, and by default `status` (reset on the main
 * resource, as upstream's ResetFieldsStrategy does for kinds with a status
 * subresource).
 */
import definitionsJson from "../../api/openapi/definitions.generated.json" with { type: "json" };
import { badRequest } from "../../machinery/status-error.js";
import type { Definitions } from "../patch/strategic-merge-patch.js";
import type { KObject } from "../registry/types.js";
import { applyConflictError, type Conflict } from "./conflicts.js";
import { compareObjects, type FieldPath, FieldSet, toFieldSet } from "./field-set.js";
import { decodeManagedFields, encodeManagedFields, formatTime, type ManagerEntry, managerId } from "./managed-fields.js";
import { deepEqual, mergeObjects, removeFields } from "./merge.js";
import { TypeResolver } from "./schema.js";

const DEFAULT_DEFS = definitionsJson as unknown as Definitions;

/** kubectl's client-side apply annotation. */
export const LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration";
/** The manager kubectl uses for `apply --server-side`, which upstream lets upgrade from client-side apply. */
const KUBECTL_SSA_MANAGER = "kubectl";
/** The manager upstream attributes pre-existing fields to on the first apply to an object without managedFields. */
export const BEFORE_FIRST_APPLY_MANAGER = "before-first-apply";

const STRIPPED: readonly FieldPath[] = [
  ["f:apiVersion"],
  ["f:kind"],
  ["f:metadata", "f:name"],
  ["f:metadata", "f:namespace"],
  ["f:metadata", "f:creationTimestamp"],
  ["f:metadata", "f:selfLink"],
  ["f:metadata", "f:uid"],
  ["f:metadata", "f:clusterName"],
  ["f:metadata", "f:generation"],
  ["f:metadata", "f:managedFields"],
  ["f:metadata", "f:resourceVersion"],
];

/** Options shared by {@link applyPatch} and {@link updateManagedFields}. */
interface CommonOptions {
  /** OpenAPI definition of the kind, e.g. `io.k8s.api.apps.v1.Deployment`. */
  readonly definition: string;
  /** The request's group/version, e.g. `apps/v1`; recorded on the entry. */
  readonly apiVersion: string;
  readonly now: Date;
  /** Subresource written through (`status`, `scale`); omitted for the main resource. */
  readonly subresource?: string;
  /** Subtrees whose ownership is not tracked for this endpoint; default `[["f:status"]]` on the main resource, none on a subresource. */
  readonly resetFields?: readonly FieldPath[];
  /** OpenAPI definitions; default the generated built-in ones. */
  readonly definitions?: Definitions;
}

/** Input of {@link applyPatch}. */
export interface ApplyOptions extends CommonOptions {
  /** The stored object, or undefined when the apply creates it. */
  readonly live: KObject | undefined;
  /** The applied configuration (the request body, parsed). */
  readonly applied: KObject;
  /** The `fieldManager` query parameter (required for apply). */
  readonly manager: string;
  /** The `force` query parameter. */
  readonly force: boolean;
}

/** Input of {@link updateManagedFields}. */
export interface UpdateOptions extends CommonOptions {
  /** The stored object, or undefined on create. */
  readonly old: KObject | undefined;
  /** The object about to be stored (after patching, defaulting and admission). */
  readonly next: KObject;
  /** The `fieldManager` query parameter, or a default such as the User-Agent's program name. */
  readonly manager: string;
  readonly operation: "Update";
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

const STATUS: readonly FieldPath[] = [["f:status"]];
const METADATA = FieldSet.of([["f:metadata"]]);

function tracked(set: FieldSet, o: CommonOptions): FieldSet {
  const reset = o.resetFields ?? (o.subresource ? [] : STATUS);
  // `metadata` itself is never a member once its stripped children are gone.
  return set.withoutPrefixes([...STRIPPED, ...reset]).difference(METADATA);
}

/** A deep copy without managedFields, for code that mutates what it merges. */
function withoutManagedFields(obj: KObject): KObject {
  const copy = structuredClone(obj);
  if (copy.metadata) delete copy.metadata.managedFields;
  return copy;
}

/** A shallow view without managedFields, for read-only comparisons (no deep copy per write). */
function viewWithoutManagedFields(obj: KObject): KObject {
  if (obj.metadata?.managedFields === undefined) return obj;
  const { managedFields: _, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

function withManagedFields(obj: KObject, entries: readonly ManagerEntry[]): KObject {
  const encoded = encodeManagedFields(entries);
  const metadata = { ...(obj.metadata ?? {}) };
  if (encoded.length > 0) metadata.managedFields = encoded;
  else delete metadata.managedFields;
  return { ...obj, metadata };
}

/** Turns a malformed-object TypeError from the field-set walk into a 400. */
function guard<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof TypeError) throw badRequest(`failed to create typed ${what} object: ${e.message}`);
    throw e;
  }
}

/** Drops the fields a comparison took over or removed from the managers other than `selfId`; returns the conflicts. */
function takeFields(entries: ManagerEntry[], selfId: string, changed: FieldSet, removed: FieldSet): { entries: ManagerEntry[]; conflicts: Conflict[] } {
  const conflicts: Conflict[] = [];
  const out = entries.map((e) => {
    const id = managerId(e);
    if (id === selfId) return e;
    const lost = e.set.intersection(changed);
    for (const path of lost.paths()) conflicts.push({ managerId: id, path });
    return { ...e, set: e.set.difference(lost).difference(removed) };
  });
  return { entries: out, conflicts };
}

/** The last-applied fields that still hold their last-applied value in `live` (upstream's allowedConflictsFromLastApplied). */
function allowedFromLastApplied(live: KObject, o: CommonOptions, types: TypeResolver): FieldSet | undefined {
  const raw = live.metadata?.annotations?.[LAST_APPLIED_ANNOTATION];
  if (raw === undefined) return undefined;
  try {
    const last = JSON.parse(raw) as unknown;
    if (!isObj(last)) return undefined;
    const cmp = compareObjects(last, withoutManagedFields(live), o.definition, types);
    return toFieldSet(last, o.definition, types).difference(cmp.modified).difference(cmp.added).difference(cmp.removed);
  } catch {
    return undefined;
  }
}

function buildLastApplied(applied: KObject): string {
  const copy = structuredClone(applied);
  const ann = copy.metadata?.annotations;
  if (ann) {
    delete ann[LAST_APPLIED_ANNOTATION];
    if (Object.keys(ann).length === 0 && copy.metadata) delete copy.metadata.annotations;
  }
  return `${JSON.stringify(sortKeys(copy))}\n`;
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (!isObj(v)) return v;
  const out: Obj = {};
  for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k]);
  return out;
}

/**
 * Server-side apply of `applied` onto `live` by `manager`. Returns the
 * object to store, with `metadata.managedFields` updated; when the apply
 * changes nothing the result deep-equals `live` (callers may skip the
 * write).
 *
 * @throws StatusError 400 when the fieldManager is missing, the body lacks
 *   apiVersion/kind, names another apiVersion, sets managedFields or has a
 *   malformed list-map item; 409 Conflict (upstream's message and
 *   `FieldManagerConflict` causes) when other managers own fields the apply
 *   changes and `force` is false.
 */
export function applyPatch(o: ApplyOptions): KObject {
  if (!o.manager) throw badRequest(`PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch`);
  if (!isObj(o.applied)) throw badRequest("the apply configuration must be an object");
  if (!o.applied.apiVersion || !o.applied.kind) throw badRequest(`Object 'apiVersion' and 'Kind' must be set in the apply configuration`);
  if (o.applied.apiVersion !== o.apiVersion) {
    throw badRequest(`the API version in the data (${o.applied.apiVersion}) does not match the expected API version (${o.apiVersion})`);
  }
  if ((o.applied.metadata?.managedFields?.length ?? 0) > 0 || o.applied.metadata?.managedFields === null) {
    throw badRequest("metadata.managedFields must be nil");
  }
  const types = new TypeResolver(o.definitions ?? DEFAULT_DEFS);
  const applied = withoutManagedFields(o.applied);
  const live = o.live ? withoutManagedFields(o.live) : undefined;

  let entries = decodeManagedFields(o.live?.metadata?.managedFields);
  if (o.live && entries.length === 0) {
    // Upstream attributes what an object already holds to a synthetic updater on its first apply.
    const set = tracked(guard("live", () => toFieldSet(live, o.definition, types)), o);
    entries = [{ manager: BEFORE_FIRST_APPLY_MANAGER, operation: "Update", apiVersion: o.apiVersion, set }];
  }
  const selfId = managerId({ manager: o.manager, operation: "Apply", apiVersion: o.apiVersion, ...(o.subresource ? { subresource: o.subresource } : {}) });
  const previous = entries.find((e) => managerId(e) === selfId);
  const configSet = tracked(guard("patch", () => toFieldSet(applied, o.definition, types)), o);

  // Merge, then prune what this manager applied last time, no longer applies, and nobody else owns.
  const merged = mergeObjects(live ?? {}, applied, o.definition, types) as KObject;
  if (previous) {
    const others = entries.filter((e) => managerId(e) !== selfId).reduce((acc, e) => acc.union(e.set), FieldSet.empty());
    const owned = others.union(configSet);
    const candidates = previous.set.difference(owned).paths();
    // Keep a list item or map entry when someone still owns something inside it.
    const ownedPaths = owned.paths();
    const prune = candidates.filter((p) => !ownedPaths.some((q) => q.length > p.length && p.every((pe, i) => q[i] === pe)));
    removeFields(merged, FieldSet.of(prune), o.definition, types);
  }

  const cmp = guard("merged", () => compareObjects(live, merged, o.definition, types));
  const changed = tracked(cmp.modified.union(cmp.added), o);
  const removed = tracked(cmp.removed, o);
  const { entries: taken, conflicts } = takeFields(entries, selfId, changed, removed);
  if (conflicts.length > 0 && !o.force) {
    let remaining = conflicts;
    if (o.manager === KUBECTL_SSA_MANAGER && o.live) {
      const allowed = allowedFromLastApplied(o.live, o, types);
      if (allowed) remaining = conflicts.filter((c) => !allowed.has(c.path));
    }
    if (remaining.length > 0) throw applyConflictError(remaining);
  }

  const objectChanged = live === undefined || !deepEqual(live, merged);
  const time = objectChanged ? formatTime(o.now) : previous?.time;
  const self: ManagerEntry = {
    manager: o.manager,
    operation: "Apply",
    apiVersion: o.apiVersion,
    ...(time ? { time } : {}),
    ...(o.subresource ? { subresource: o.subresource } : {}),
    set: configSet,
  };
  const next = [...taken.filter((e) => managerId(e) !== selfId), self];
  let result = withManagedFields(merged, next);
  if (o.manager === KUBECTL_SSA_MANAGER && result.metadata?.annotations?.[LAST_APPLIED_ANNOTATION] !== undefined) {
    result = { ...result, metadata: { ...result.metadata, annotations: { ...result.metadata.annotations, [LAST_APPLIED_ANNOTATION]: buildLastApplied(o.applied) } } };
  }
  return result;
}

/** True for upstream's reset request: `managedFields: [{}]`. */
function isReset(next: KObject): boolean {
  const mf = next.metadata?.managedFields;
  return Array.isArray(mf) && mf.length === 1 && isObj(mf[0]) && Object.keys(mf[0]).length === 0;
}

/**
 * Records an ordinary create/update/patch in `metadata.managedFields`:
 * the fields it added or changed move to the manager's `Update` entry for
 * `apiVersion` (time = `now`), other managers lose them, and removed fields
 * leave every entry. Managed fields sent in `next` replace the stored ones
 * (`[{}]` clears them), as upstream allows. Returns `next` with
 * managedFields set; never throws a conflict.
 */
export function updateManagedFields(o: UpdateOptions): KObject {
  if (isReset(o.next)) return withManagedFields(o.next, []);
  const sent = o.next.metadata?.managedFields;
  if (!o.old && !(sent && sent.length > 0) && !o.definitions) return createManagedFields(o);
  const types = new TypeResolver(o.definitions ?? DEFAULT_DEFS);
  let entries: ManagerEntry[];
  try {
    entries = sent && sent.length > 0 ? decodeManagedFields(sent) : decodeManagedFields(o.old?.metadata?.managedFields);
  } catch {
    entries = decodeManagedFields(o.old?.metadata?.managedFields);
  }
  const old = o.old ? viewWithoutManagedFields(o.old) : undefined;
  const next = viewWithoutManagedFields(o.next);
  const cmp = guard("updated", () => compareObjects(old, next, o.definition, types));
  const changed = tracked(cmp.modified.union(cmp.added), o);
  const removed = tracked(cmp.removed, o);
  const self = { manager: o.manager, operation: "Update" as const, apiVersion: o.apiVersion, ...(o.subresource ? { subresource: o.subresource } : {}) };
  // Like upstream's "current-operation": every existing entry, this manager's included, gives up what changed.
  const { entries: taken } = takeFields(entries, "", changed, removed);
  if (!changed.isEmpty()) {
    const selfId = managerId(self);
    const prev = taken.find((e) => managerId(e) === selfId);
    const entry: ManagerEntry = { ...self, time: formatTime(o.now), set: (prev?.set ?? FieldSet.empty()).union(changed) };
    return withManagedFields(next, [...taken.filter((e) => managerId(e) !== selfId), entry]);
  }
  return withManagedFields(next, taken);
}

/**
 * The fieldsV1 a create records, by the created object's shape (see
 * {@link shapeKey}): objects made from one template (a ReplicaSet's pods,
 * a scheduler's events) own the same fields, so the field-set walk, its
 * set algebra and its encoding run once per shape, not once per object.
 * Values are fieldsV1 JSON ("" when no field is tracked).
 */
const createdFields = new Map<string, string>();
const CREATED_FIELDS_MAX = 512;
const CREATED_KEY_MAX = 16 * 1024;

/**
 * A key that is equal for two objects only if they set the same fields:
 * every map key with the type of a scalar value, and lists verbatim (list
 * items are identified by their keys or values). Key order counts, so an
 * equal key is never wrong, only sometimes missed.
 */
function shapeKey(v: unknown): string {
  if (v === null) return "z";
  if (Array.isArray(v)) return JSON.stringify(v) ?? "u";
  switch (typeof v) {
    case "object": {
      let out = "{";
      for (const k in v as Obj) out += `${JSON.stringify(k)}:${shapeKey((v as Obj)[k])},`;
      return `${out}}`;
    }
    case "string":
      return "s";
    case "number":
      return "n";
    case "boolean":
      return "b";
    default:
      return "u";
  }
}

/** updateManagedFields on create (no stored object, no managedFields sent): one Update entry holding every tracked field. */
function createManagedFields(o: UpdateOptions): KObject {
  const next = viewWithoutManagedFields(o.next);
  const key = `${o.definition}\u0000${o.subresource ?? ""}\u0000${o.resetFields ? JSON.stringify(o.resetFields) : "-"}\u0000${shapeKey(next)}`;
  let fields = createdFields.get(key);
  if (fields === undefined) {
    const cmp = guard("updated", () => compareObjects(undefined, next, o.definition, new TypeResolver(DEFAULT_DEFS)));
    const changed = tracked(cmp.modified.union(cmp.added), o);
    fields = changed.isEmpty() ? "" : JSON.stringify(changed.toFieldsV1());
    // Keys hold lists verbatim: objects with large lists are not worth the memory.
    if (key.length <= CREATED_KEY_MAX) {
      if (createdFields.size >= CREATED_FIELDS_MAX) createdFields.clear();
      createdFields.set(key, fields);
    }
  }
  const metadata = { ...(next.metadata ?? {}) };
  if (fields === "") {
    delete metadata.managedFields;
  } else {
    metadata.managedFields = [
      {
        manager: o.manager,
        operation: "Update",
        apiVersion: o.apiVersion,
        time: formatTime(o.now),
        fieldsType: "FieldsV1",
        // A copy per object: the memo's entry is never shared with a stored object.
        fieldsV1: JSON.parse(fields) as Record<string, unknown>,
        ...(o.subresource ? { subresource: o.subresource } : {}),
      },
    ];
  }
  return { ...next, metadata };
}
