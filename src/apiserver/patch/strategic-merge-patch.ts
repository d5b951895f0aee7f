/**
 * Strategic merge patch, as k8s.io/apimachinery/pkg/util/strategicpatch
 * applies it to built-in kinds: lists with `x-kubernetes-patch-strategy:
 * merge` merge element-wise by their merge key, primitive lists with merge
 * strategy union, everything else replaces; the directives `$patch`
 * (replace/delete/merge), `$retainKeys`, `$deleteFromPrimitiveList/<field>`
 * and `$setElementOrder/<field>` are honoured; `null` deletes a field.
 */
import { badRequest } from "../../machinery/status-error.js";

/** One schema node as the OpenAPI definitions describe it. */
export interface SchemaNode {
  readonly $ref?: string;
  readonly type?: string;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly items?: SchemaNode;
  readonly additionalProperties?: SchemaNode | boolean;
  readonly "x-kubernetes-patch-strategy"?: string;
  readonly "x-kubernetes-patch-merge-key"?: string;
}

/** Resolves `#/definitions/NAME` references. */
export type Definitions = Readonly<Record<string, SchemaNode>>;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

const PATCH = "$patch";
const RETAIN_KEYS = "$retainKeys";
const DELETE_PRIMITIVE = "$deleteFromPrimitiveList/";
const SET_ORDER = "$setElementOrder/";

class Schema {
  constructor(private readonly defs: Definitions) {}

  resolve(node: SchemaNode | undefined): SchemaNode | undefined {
    let n = node;
    for (let i = 0; n?.$ref && i < 20; i++) n = this.defs[n.$ref.replace("#/definitions/", "")];
    return n;
  }

  /** The schema of field `key` under object schema `node`. */
  field(node: SchemaNode | undefined, key: string): SchemaNode | undefined {
    const n = this.resolve(node);
    if (!n) return undefined;
    const p = n.properties?.[key];
    if (p) return p;
    if (isObj(n.additionalProperties)) return n.additionalProperties as SchemaNode;
    return undefined;
  }
}

function strategyOf(node: SchemaNode | undefined): { merge: boolean; retainKeys: boolean; key?: string } {
  const s = node?.["x-kubernetes-patch-strategy"] ?? "";
  return { merge: s.split(",").includes("merge"), retainKeys: s.split(",").includes("retainKeys"), key: node?.["x-kubernetes-patch-merge-key"] };
}

/** Removes directive keys (and `$patch: delete` list elements) from a value being added whole. */
function clean(v: unknown): unknown {
  if (Array.isArray(v)) return v.filter((e) => !(isObj(e) && e[PATCH] === "delete")).map(clean);
  if (!isObj(v)) return v;
  const out: Obj = {};
  for (const [k, val] of Object.entries(v)) {
    if (k === PATCH || k === RETAIN_KEYS || k.startsWith(DELETE_PRIMITIVE) || k.startsWith(SET_ORDER)) continue;
    if (val === null) continue;
    out[k] = clean(val);
  }
  return out;
}

function mergeMap(original: Obj, patch: Obj, node: SchemaNode | undefined, schema: Schema): Obj | undefined {
  const directive = patch[PATCH];
  if (directive === "delete") return undefined;
  if (directive === "replace") return clean(patch) as Obj;
  if (directive !== undefined && directive !== "merge") throw badRequest(`Unknown patch type: ${String(directive)}`);
  const out: Obj = { ...original };
  for (const [k, pv] of Object.entries(patch)) {
    if (k === PATCH || k === RETAIN_KEYS || k.startsWith(SET_ORDER)) continue;
    if (k.startsWith(DELETE_PRIMITIVE)) {
      const field = k.slice(DELETE_PRIMITIVE.length);
      if (!Array.isArray(pv)) throw badRequest(`invalid value for ${k}: must be a list`);
      const cur = out[field];
      if (Array.isArray(cur)) out[field] = cur.filter((x) => !pv.includes(x));
      continue;
    }
    if (pv === null) {
      delete out[k];
      continue;
    }
    const fieldNode = schema.field(node, k);
    const ov = out[k];
    if (isObj(pv) && isObj(ov)) {
      const merged = mergeMap(ov, pv, fieldNode, schema);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    } else if (Array.isArray(pv)) {
      out[k] = mergeList(Array.isArray(ov) ? ov : [], pv, fieldNode, schema, patch[`${SET_ORDER}${k}`]);
    } else if (isObj(pv)) {
      if (pv[PATCH] === "delete") delete out[k];
      else out[k] = clean(pv);
    } else {
      out[k] = pv;
    }
  }
  // $retainKeys: keep only the listed fields (for retainKeys-strategy fields such as a Deployment's strategy).
  const retain = patch[RETAIN_KEYS];
  if (retain !== undefined) {
    if (!Array.isArray(retain)) throw badRequest(`invalid value for ${RETAIN_KEYS}: must be a list of field names`);
    for (const k of Object.keys(out)) if (!retain.includes(k)) delete out[k];
  }
  // A patch may also carry $setElementOrder for lists it does not otherwise change.
  for (const [k, order] of Object.entries(patch)) {
    if (!k.startsWith(SET_ORDER)) continue;
    const field = k.slice(SET_ORDER.length);
    if (field in patch) continue;
    const cur = out[field];
    if (Array.isArray(cur) && Array.isArray(order)) out[field] = reorder(cur, order, strategyOf(schema.field(node, field)).key);
  }
  return out;
}

function keyOf(e: unknown, key: string | undefined): unknown {
  return key && isObj(e) ? e[key] : e;
}

/** Orders `list` by `order` (elements or merge-key stubs); elements not named keep their place after. */
function reorder(list: unknown[], order: unknown[], key: string | undefined): unknown[] {
  const wanted = order.map((o) => keyOf(o, key));
  const inOrder: unknown[] = [];
  for (const w of wanted) {
    const found = list.find((e) => isDeepEqual(keyOf(e, key), w));
    if (found !== undefined) inOrder.push(found);
  }
  const rest = list.filter((e) => !wanted.some((w) => isDeepEqual(keyOf(e, key), w)));
  return [...inOrder, ...rest];
}

function isDeepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function mergeList(original: unknown[], patch: unknown[], node: SchemaNode | undefined, schema: Schema, order: unknown): unknown[] {
  const { merge, key } = strategyOf(node);
  if (patch.some((e) => isObj(e) && e[PATCH] === "replace")) {
    return clean(patch.filter((e) => !(isObj(e) && e[PATCH] === "replace"))) as unknown[];
  }
  if (!merge) return clean(patch) as unknown[];
  let out: unknown[];
  if (!key) {
    // Primitive list with merge strategy: union, keeping order.
    out = [...original];
    for (const v of patch) if (!out.some((o) => isDeepEqual(o, v))) out.push(v);
  } else {
    out = [...original];
    const itemNode = schema.resolve(node)?.items;
    for (const pe of patch) {
      if (!isObj(pe)) throw badRequest(`a strategic merge patch list element for merge key "${key}" must be an object`);
      const k = pe[key];
      const idx = out.findIndex((o) => isObj(o) && isDeepEqual(o[key], k));
      if (pe[PATCH] === "delete") {
        out = out.filter((o) => !(isObj(o) && isDeepEqual(o[key], k)));
        continue;
      }
      if (idx >= 0) {
        const merged = mergeMap(out[idx] as Obj, pe, itemNode, schema);
        if (merged === undefined) out.splice(idx, 1);
        else out[idx] = merged;
      } else {
        out.push(clean(pe));
      }
    }
  }
  return Array.isArray(order) ? reorder(out, order, key) : out;
}

/**
 * Applies `patch` to `original` using the schema of `definition` (e.g.
 * `io.k8s.api.apps.v1.Deployment`) from `defs`.
 */
export function applyStrategicMergePatch(original: Obj, patch: Obj, definition: string, defs: Definitions): Obj {
  const schema = new Schema(defs);
  const merged = mergeMap(original, patch, { $ref: `#/definitions/${definition}` }, schema);
  if (merged === undefined) throw badRequest("a strategic merge patch cannot delete the whole object");
  return merged;
}
