/**
 * Structural merge and removal for server-side apply, as
 * structured-merge-diff's `TypedValue.Merge` and `RemoveItems`: structs and
 * granular maps merge field by field, list maps merge element-wise by key,
 * sets union, atomic values (scalars, atomic lists and maps) are replaced
 * by the applied value.
 */
import type { SchemaNode } from "../patch/strategic-merge-patch.js";
import { canonicalJson, type FieldPath, type FieldSet, listItemElement } from "./field-set.js";
import type { TypeInfo, TypeResolver } from "./schema.js";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

function isAtomic(info: TypeInfo): boolean {
  return info.kind === "scalar" || (info.kind === "list" && info.listType === "atomic") || ((info.kind === "struct" || info.kind === "map") && info.atomic);
}

function mergeValue(live: unknown, config: unknown, node: SchemaNode | undefined, types: TypeResolver): unknown {
  if (live === undefined) return structuredClone(config);
  const info = types.info(node, config);
  if (isAtomic(info)) return structuredClone(config);
  if (info.kind === "list") {
    if (!Array.isArray(live)) return structuredClone(config);
    return mergeList(live, config as unknown[], info, types);
  }
  if (!isObj(live)) return structuredClone(config);
  const out: Obj = { ...live };
  for (const [k, cv] of Object.entries(config as Obj)) {
    // A null in the applied configuration claims the field but leaves it unset.
    if (cv === null) {
      delete out[k];
      continue;
    }
    out[k] = mergeValue(live[k], cv, types.child(info, k).node, types);
  }
  return out;
}

/**
 * Merges two associative lists: items only in `live` keep their place,
 * shared items are merged, and items of `config` come in `config`'s order,
 * each before the next shared item it precedes there.
 */
function mergeList(live: unknown[], config: unknown[], info: Extract<TypeInfo, { kind: "list" }>, types: TypeResolver): unknown[] {
  const pe = (item: unknown, i: number): string => listItemElement(info, item, i) ?? `i:${i}`;
  const configKeys = config.map(pe);
  const configByKey = new Map(configKeys.map((k, i) => [k, config[i]]));
  const emitted = new Set<string>();
  const out: unknown[] = [];
  let next = 0;
  const emitConfigUpTo = (key: string | undefined): void => {
    while (next < configKeys.length) {
      const k = configKeys[next]!;
      if (k === key) return;
      next++;
      if (emitted.has(k)) continue;
      if (liveByKey.has(k)) continue; // emitted at its live position
      emitted.add(k);
      out.push(structuredClone(configByKey.get(k)));
    }
  };
  const liveKeys = live.map(pe);
  const liveByKey = new Map(liveKeys.map((k, i) => [k, live[i]]));
  liveKeys.forEach((k, i) => {
    if (emitted.has(k)) return;
    if (!configByKey.has(k)) {
      out.push(live[i]);
      return;
    }
    emitConfigUpTo(k);
    emitted.add(k);
    out.push(info.listType === "set" ? live[i] : mergeValue(live[i], configByKey.get(k), info.node, types));
  });
  emitConfigUpTo(undefined);
  return out;
}

/**
 * Merges the applied configuration `config` into `live` (upstream's
 * `live.Merge(config)`); neither input is modified.
 */
export function mergeObjects(live: Obj, config: Obj, definition: string, types: TypeResolver): Obj {
  return mergeValue(live, config, types.root(definition), types) as Obj;
}

/**
 * Removes the members of `remove` from `obj` in place (upstream's
 * `RemoveItems`), then drops structs and maps that the removal left empty.
 */
export function removeFields(obj: Obj, remove: FieldSet, definition: string, types: TypeResolver): void {
  const paths = remove.paths();
  // Removing an item removes what is inside it; removing its key fields first would orphan it.
  const outermost = paths.filter((p) => !paths.some((q) => q.length < p.length && q.every((pe, i) => p[i] === pe)));
  for (const path of outermost.reverse()) removePath(obj, path, types.root(definition), types);
}

function removePath(container: unknown, path: FieldPath, node: SchemaNode | undefined, types: TypeResolver): boolean {
  const [pe, ...rest] = path;
  if (pe === undefined) return false;
  const info = types.info(node, container);
  if (pe.startsWith("f:") && isObj(container)) {
    const k = pe.slice(2);
    if (!(k in container)) return false;
    if (rest.length === 0) {
      delete container[k];
      return true;
    }
    const child = container[k];
    const removed = removePath(child, rest, types.child(info, k).node, types);
    if (removed && isEmptyContainer(child)) delete container[k];
    return removed;
  }
  if (Array.isArray(container) && info.kind === "list") {
    const idx = container.findIndex((item, i) => listItemElement(info, item, i) === pe);
    if (idx < 0) return false;
    if (rest.length === 0) {
      container.splice(idx, 1);
      return true;
    }
    return removePath(container[idx], rest, info.node, types);
  }
  return false;
}

function isEmptyContainer(v: unknown): boolean {
  return (isObj(v) && Object.keys(v).length === 0) || (Array.isArray(v) && v.length === 0);
}

/** True when two JSON values are equal (object key order ignored). */
export function deepEqual(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
