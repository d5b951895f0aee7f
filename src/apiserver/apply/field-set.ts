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

/** An immutable set of field paths. */
export class FieldSet {
  private readonly keys: ReadonlySet<string>;

  private constructor(keys: Iterable<string>) {
    this.keys = new Set(keys);
  }

  /** The empty set. */
  static empty(): FieldSet {
    return new FieldSet([]);
  }

  /** A set of the given paths. */
  static of(paths: Iterable<FieldPath>): FieldSet {
    return new FieldSet([...paths].map(keyOf));
  }

  /** Decodes a `fieldsV1` object; throws a TypeError on a malformed one. */
  static fromFieldsV1(fields: unknown): FieldSet {
    const out: string[] = [];
    const walk = (node: unknown, prefix: PathElement[]): void => {
      if (!isObj(node)) throw new TypeError(`fieldsV1: expected an object at ${pathToString(prefix) || "the root"}`);
      for (const [pe, child] of Object.entries(node)) {
        if (pe === ".") {
          out.push(keyOf(prefix));
          continue;
        }
        if (!/^[fkvi]:/.test(pe)) throw new TypeError(`fieldsV1: invalid path element ${JSON.stringify(pe)}`);
        const path = [...prefix, pe];
        if (isObj(child) && Object.keys(child).length === 0) out.push(keyOf(path));
        else walk(child, path);
      }
    };
    walk(fields, []);
    return new FieldSet(out);
  }

  /** Encodes as `fieldsV1` JSON: members are `{}` leaves, or `".": {}` when they also have children. */
  toFieldsV1(): Record<string, unknown> {
    const root: Obj = {};
    for (const path of this.paths()) {
      let node = root;
      for (let i = 0; i < path.length; i++) {
        const pe = path[i]!;
        const last = i === path.length - 1;
        let child = node[pe] as Obj | undefined;
        if (!child) {
          child = {};
          node[pe] = child;
        }
        if (last) {
          // A member that is also a parent keeps a "." marker.
          if (Object.keys(child).length > 0 && !("." in child)) node[pe] = { ".": {}, ...child };
        } else {
          if (this.keys.has(keyOf(path.slice(0, i + 1))) && !("." in child)) {
            child = { ".": {}, ...child };
            node[pe] = child;
          }
          node = child;
        }
      }
    }
    return root;
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
    return new FieldSet([...this.keys, ...other.keys]);
  }

  difference(other: FieldSet): FieldSet {
    return new FieldSet([...this.keys].filter((k) => !other.keys.has(k)));
  }

  intersection(other: FieldSet): FieldSet {
    return new FieldSet([...this.keys].filter((k) => other.keys.has(k)));
  }

  equals(other: FieldSet): boolean {
    return this.size === other.size && [...this.keys].every((k) => other.keys.has(k));
  }

  /** The paths whose first elements are `prefix` removed (used to drop server-owned metadata). */
  withoutPrefix(prefix: FieldPath): FieldSet {
    const p = keyOf(prefix);
    return new FieldSet([...this.keys].filter((k) => k !== p && !k.startsWith(p + SEP)));
  }
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
 * `TypedValue.ToFieldSet` and `Compare` see them.
 *
 * @throws TypeError when a list-map item lacks a key field.
 */
export function fieldValues(obj: unknown, definition: string, defs: Definitions | TypeResolver, withMapFields = false): Map<string, string> {
  const types = defs instanceof TypeResolver ? defs : new TypeResolver(defs);
  const out = new Map<string, string>();
  const walk = (value: unknown, node: SchemaNode | undefined, path: PathElement[]): TypeInfo => {
    const info = types.info(node, value);
    if (info.kind === "scalar" || ((info.kind === "struct" || info.kind === "map") && info.atomic) || (info.kind === "list" && info.listType === "atomic")) {
      out.set(keyOf(path), canonicalJson(value));
      return info;
    }
    if (info.kind === "list") {
      (value as unknown[]).forEach((item, i) => {
        const pe = listItemElement(info, item, i);
        if (pe === undefined) throw new TypeError(`${pathToString(path)}: associative list with keys has an element that omits key field(s) ${info.keys.join(", ")}`);
        const childPath = [...path, pe];
        const childInfo = walk(item, info.node, childPath);
        if ((childInfo.kind === "struct" || childInfo.kind === "map") && !out.has(keyOf(childPath))) out.set(keyOf(childPath), NODE);
      });
      return info;
    }
    const entries = Object.entries(value as Obj);
    // An empty struct or map is itself a member (`"f:resources":{}`), as upstream records it.
    if (entries.length === 0 && path.length > 0) out.set(keyOf(path), "{}");
    for (const [k, v] of entries) {
      const { node: childNode, named } = types.child(info, k);
      const childPath = [...path, `f:${k}`];
      const childInfo = walk(v, childNode, childPath);
      // Map entries (not struct fields) are members even when they hold objects; for comparisons, so
      // are struct fields holding granular maps (upstream's Update entries own `f:labels` as ".").
      if (!out.has(keyOf(childPath)) && ((!named && childInfo.kind !== "scalar") || (named && withMapFields && childInfo.kind === "map"))) {
        out.set(keyOf(childPath), NODE);
      }
    }
    return info;
  };
  walk(obj, types.root(definition), []);
  return out;
}

/** The set of fields `obj` sets (upstream's `ToFieldSet`). */
export function toFieldSet(obj: unknown, definition: string, defs: Definitions | TypeResolver): FieldSet {
  return FieldSet.of([...fieldValues(obj, definition, defs).keys()].map(pathOf));
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
  const b = fieldValues(to, definition, defs, true);
  const added: FieldPath[] = [];
  const removed: FieldPath[] = [];
  const modified: FieldPath[] = [];
  for (const [k, v] of b) {
    const old = a.get(k);
    if (old === undefined) added.push(pathOf(k));
    else if (old !== v) modified.push(pathOf(k));
  }
  for (const k of a.keys()) if (!b.has(k)) removed.push(pathOf(k));
  return { added: FieldSet.of(added), removed: FieldSet.of(removed), modified: FieldSet.of(modified) };
}
