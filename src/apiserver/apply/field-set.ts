/**
 * Field sets as structured-merge-diff's `fieldpath.Set`: the paths an
 * object sets, their `fieldsV1` JSON encoding (as in
 * `metadata.managedFields[].fieldsV1`) and set algebra.
 *
 * A path is a list of encoded path elements, exactly as fieldsV1 spells
 * them: `f:<field>`, `k:<json of the list-map key fields, sorted by name>`,
 * `v:<json of a set element>`, `i:<index>`.
 */
import type { Definitions, SchemaNode } from "../patch/strategic-merge-patch.js";
import { type TypeInfo, TypeResolver } from "./schema.js";

/** One encoded path element (`f:name`, `k:{"name":"web"}`, `v:"a"`, `i:0`). */
export type PathElement = string;
/** A path from the object root. */
export type FieldPath = readonly PathElement[];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const SEP = "\u0001";
const keyOf = (p: FieldPath): string => p.join(SEP);
const pathOf = (k: string): FieldPath => (k === "" ? [] : k.split(SEP));

/** JSON with object keys sorted, so equal values have equal text. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (isObj(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

const RANK: Record<string, number> = { f: 0, k: 1, v: 2, i: 3 };

function compareElements(a: PathElement, b: PathElement): number {
  const ra = RANK[a[0] ?? ""] ?? 9;
  const rb = RANK[b[0] ?? ""] ?? 9;
  if (ra !== rb) return ra - rb;
  if (a.startsWith("i:") && b.startsWith("i:")) return Number(a.slice(2)) - Number(b.slice(2));
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders paths as structured-merge-diff iterates them (element by element; fields before keys before values). */
export function comparePaths(a: FieldPath, b: FieldPath): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareElements(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

function valueString(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : canonicalJson(v);
}

/**
 * Formats a path as upstream's `fieldpath.Path.String()`, the form conflict
 * messages use: `.spec.containers[name="web"].image`, `[=value]`, `[0]`.
 */
export function pathToString(path: FieldPath): string {
  return path
    .map((pe) => {
      const body = pe.slice(2);
      if (pe.startsWith("f:")) return `.${body}`;
      if (pe.startsWith("k:")) {
        const key = JSON.parse(body) as Obj;
        return `[${Object.keys(key)
          .map((k) => `${k}=${valueString(key[k])}`)
          .join(",")}]`;
      }
      if (pe.startsWith("v:")) return `[=${valueString(JSON.parse(body))}]`;
      if (pe.startsWith("i:")) return `[${body}]`;
      return "{{invalid path element}}";
    })
    .join("");
}

/** A node of the tree {@link FieldSet.toFieldsV1} builds before serialising it. */
interface V1Node {
  member: boolean;
  readonly children: Map<PathElement, V1Node>;
}

function serialiseV1(node: V1Node): Obj {
  const out: Obj = {};
  // A member that is also a parent keeps a "." marker, first as upstream writes it.
  if (node.member && node.children.size > 0) out["."] = {};
  // Siblings in structured-merge-diff's order; sorting each node's few children beats sorting whole paths.
  const names = [...node.children.keys()];
  if (names.length > 1) names.sort(compareElements);
  for (const pe of names) out[pe] = serialiseV1(node.children.get(pe)!);
  return out;
}
/** An immutable set of field paths. */
export class FieldSet {
  private readonly keys: ReadonlySet<string>;

  private constructor(keys: ReadonlySet<string>) {
    this.keys = keys;
  }

  /** The empty set. */
  static empty(): FieldSet {
    return new FieldSet(new Set());
  }

  /** A set of the given paths. */
  static of(paths: Iterable<FieldPath>): FieldSet {
    const keys = new Set<string>();
    for (const p of paths) keys.add(keyOf(p));
    return new FieldSet(keys);
  }

  /** Decodes a `fieldsV1` object; throws a TypeError on a malformed one. */
  static fromFieldsV1(fields: unknown): FieldSet {
    const out = new Set<string>();
    const walk = (node: unknown, prefix: string): void => {
      if (!isObj(node)) throw new TypeError(`fieldsV1: expected an object at ${pathToString(pathOf(prefix)) || "the root"}`);
      for (const pe in node) {
        const child = node[pe];
        if (pe === ".") {
          out.add(prefix);
          continue;
        }
        const kind = pe.charCodeAt(0);
        // f, k, v, i followed by ':'
        if (pe.charCodeAt(1) !== 58 || (kind !== 102 && kind !== 107 && kind !== 118 && kind !== 105)) {
          throw new TypeError(`fieldsV1: invalid path element ${JSON.stringify(pe)}`);
        }
        const key = prefix === "" ? pe : prefix + SEP + pe;
        if (isObj(child) && isEmptyObject(child)) out.add(key);
        else walk(child, key);
      }
    };
    walk(fields, "");
    return new FieldSet(out);
  }

  /** Encodes as `fieldsV1` JSON: members are `{}` leaves, or `".": {}` when they also have children. */
  toFieldsV1(): Record<string, unknown> {
    const root: V1Node = { member: false, children: new Map() };
    for (const key of this.keys) {
      let node = root;
      for (const pe of pathOf(key)) {
        let child = node.children.get(pe);
        if (!child) {
          child = { member: false, children: new Map() };
          node.children.set(pe, child);
        }
        node = child;
      }
      node.member = true;
    }
    return serialiseV1(root);
  }

  has(path: FieldPath): boolean {
    return this.keys.has(keyOf(path));
  }

  get size(): number {
    return this.keys.size;
  }

  isEmpty(): boolean {
    return this.keys.size === 0;
  }

  /** The paths, sorted as {@link comparePaths}. */
  paths(): FieldPath[] {
    return [...this.keys].map(pathOf).sort(comparePaths);
  }

  union(other: FieldSet): FieldSet {
    if (other.keys.size === 0) return this;
    if (this.keys.size === 0) return other;
    const keys = new Set(this.keys);
    for (const k of other.keys) keys.add(k);
    return new FieldSet(keys);
  }

  difference(other: FieldSet): FieldSet {
    if (other.keys.size === 0 || this.keys.size === 0) return this;
    const keys = new Set<string>();
    for (const k of this.keys) if (!other.keys.has(k)) keys.add(k);
    return new FieldSet(keys);
  }

  intersection(other: FieldSet): FieldSet {
    const keys = new Set<string>();
    const [small, large] = this.keys.size <= other.keys.size ? [this.keys, other.keys] : [other.keys, this.keys];
    for (const k of small) if (large.has(k)) keys.add(k);
    return new FieldSet(keys);
  }

  equals(other: FieldSet): boolean {
    if (this.size !== other.size) return false;
    for (const k of this.keys) if (!other.keys.has(k)) return false;
    return true;
  }

  /** The paths whose first elements are `prefix` removed (used to drop server-owned metadata). */
  withoutPrefix(prefix: FieldPath): FieldSet {
    return this.withoutPrefixes([prefix]);
  }

  /** The set without `prefixes` and everything under them, in one pass. */
  withoutPrefixes(prefixes: readonly FieldPath[]): FieldSet {
    // Grouped by first element, so most keys are settled by one lookup.
    const byHead = new Map<string, string[]>();
    for (const p of prefixes) {
      if (p.length === 0) return FieldSet.empty();
      const list = byHead.get(p[0]!) ?? [];
      list.push(keyOf(p));
      byHead.set(p[0]!, list);
    }
    const keys = new Set<string>();
    for (const k of this.keys) {
      const cut = k.indexOf(SEP);
      const candidates = byHead.get(cut < 0 ? k : k.slice(0, cut));
      if (candidates?.some((p) => k === p || (k.startsWith(p) && k.charAt(p.length) === SEP))) continue;
      keys.add(k);
    }
    return keys.size === this.keys.size ? this : new FieldSet(keys);
  }

  /** @internal Builds a set from encoded keys (what {@link fieldValues} returns). */
  static fromKeys(keys: Iterable<string>): FieldSet {
    return new FieldSet(new Set(keys));
  }
}

function isEmptyObject(o: Obj): boolean {
  for (const _ in o) return false;
  return true;
}

/** The encoded path element of a list item, or undefined when the item lacks a key field. */
export function listItemElement(info: Extract<TypeInfo, { kind: "list" }>, item: unknown, index: number): PathElement | undefined {
  if (info.listType === "map") {
    if (!isObj(item)) return undefined;
    const key: Obj = {};
    for (const k of [...info.keys].sort()) {
      if (!(k in item)) return undefined;
      key[k] = item[k];
    }
    return `k:${canonicalJson(key)}`;
  }
  if (info.listType === "set") return `v:${canonicalJson(item)}`;
  return `i:${index}`;
}

/** Marks a member that has children (list items, map entries holding objects): compared by existence, not value. */
const NODE = "\u0000node";

/**
 * Every member path `obj` sets, with a comparison token: leaves map to the
 * canonical JSON of their value, list items and non-leaf map entries to a
 * fixed marker (their children are compared instead), as upstream's
 * `TypedValue.ToFieldSet` and `Compare` see them. Without `withTokens`
 * leaves map to "" (only the paths are wanted).
 *
 * @throws TypeError when a list-map item lacks a key field.
 */
export function fieldValues(obj: unknown, definition: string, defs: Definitions | TypeResolver, withMapFields = false, withTokens = true): Map<string, string> {
  const types = defs instanceof TypeResolver ? defs : new TypeResolver(defs);
  const out = new Map<string, string>();
  const join = (prefix: string, pe: string): string => (prefix === "" ? pe : prefix + SEP + pe);
  // Keys are the encoded paths joined by SEP, built incrementally (no per-node path arrays).
  const walk = (value: unknown, node: SchemaNode | undefined, key: string): TypeInfo => {
    const info = types.info(node, value);
    if (info.kind === "scalar") {
      out.set(key, !withTokens ? "" : typeof value === "string" ? JSON.stringify(value) : canonicalJson(value));
      return info;
    }
    if (((info.kind === "struct" || info.kind === "map") && info.atomic) || (info.kind === "list" && info.listType === "atomic")) {
      out.set(key, withTokens ? canonicalJson(value) : "");
      return info;
    }
    if (info.kind === "list") {
      const items = value as unknown[];
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        const pe = listItemElement(info, item, i);
        if (pe === undefined) throw new TypeError(`${pathToString(pathOf(key))}: associative list with keys has an element that omits key field(s) ${info.keys.join(", ")}`);
        const childKey = join(key, pe);
        const childInfo = walk(item, info.node, childKey);
        if ((childInfo.kind === "struct" || childInfo.kind === "map") && !out.has(childKey)) out.set(childKey, NODE);
      }
      return info;
    }
    const o = value as Obj;
    let empty = true;
    for (const k in o) {
      empty = false;
      const { node: childNode, named } = types.child(info, k);
      const childKey = join(key, `f:${k}`);
      const childInfo = walk(o[k], childNode, childKey);
      // Map entries (not struct fields) are members even when they hold objects; for comparisons, so
      // are struct fields holding granular maps (upstream's Update entries own `f:labels` as ".").
      if (!out.has(childKey) && ((!named && childInfo.kind !== "scalar") || (named && withMapFields && childInfo.kind === "map"))) {
        out.set(childKey, NODE);
      }
    }
    // An empty struct or map is itself a member (`"f:resources":{}`), as upstream records it.
    if (empty && key !== "") out.set(key, "{}");
    return info;
  };
  walk(obj, types.root(definition), "");
  return out;
}

/** The set of fields `obj` sets (upstream's `ToFieldSet`). */
export function toFieldSet(obj: unknown, definition: string, defs: Definitions | TypeResolver): FieldSet {
  return FieldSet.fromKeys(fieldValues(obj, definition, defs).keys());
}

/** Added, removed and modified paths between two objects (upstream's `Compare`). */
export interface Comparison {
  readonly added: FieldSet;
  readonly removed: FieldSet;
  readonly modified: FieldSet;
}

/** Compares `from` and `to` field by field. */
export function compareObjects(from: unknown, to: unknown, definition: string, defs: Definitions | TypeResolver): Comparison {
  const a = from === undefined ? new Map<string, string>() : fieldValues(from, definition, defs, true);
  // With nothing to compare against every path is added: the values' tokens are not needed (a create's case).
  const b = fieldValues(to, definition, defs, true, from !== undefined);
  const added: string[] = [];
  const removed: string[] = [];
  const modified: string[] = [];
  for (const [k, v] of b) {
    const old = a.get(k);
    if (old === undefined) added.push(k);
    else if (old !== v) modified.push(k);
  }
  for (const k of a.keys()) if (!b.has(k)) removed.push(k);
  return { added: FieldSet.fromKeys(added), removed: FieldSet.fromKeys(removed), modified: FieldSet.fromKeys(modified) };
}
