/**
 * An informer's cache, as client-go's thread-safe store plus indexer:
 * objects by `ns/name` key, and named indexes from a computed value to the
 * keys that have it. Every write costs O(number of indexes), never O(n).
 */
import type { KubeObject } from "./resource-client.js";

/** Computes the values an object is filed under in one index. */
export type IndexFunc<T> = (obj: T) => readonly string[];

/** The built-in index of every informer: objects by namespace. */
export const NAMESPACE_INDEX = "namespace";

/** `ns/name`, or `name` for a cluster-scoped object (client-go's MetaNamespaceKeyFunc). */
export function objectKey(obj: KubeObject): string {
  const m = obj.metadata;
  const name = m?.name ?? "";
  return m?.namespace ? `${m.namespace}/${name}` : name;
}

/** Splits a key made by {@link objectKey} into its namespace ("" when cluster-scoped) and name. */
export function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf("/");
  return slash < 0 ? { namespace: "", name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** The namespace index function: one value, the namespace ("" when cluster-scoped). */
export function namespaceIndexFunc(obj: KubeObject): readonly string[] {
  return [obj.metadata?.namespace ?? ""];
}

interface Index<T> {
  readonly fn: IndexFunc<T>;
  readonly byValue: Map<string, Set<string>>;
}

function sameValues(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Objects by key with secondary indexes. */
export class Indexer<T extends KubeObject> {
  private readonly items = new Map<string, T>();
  private readonly indexes = new Map<string, Index<T>>();

  constructor() {
    this.addIndexer(NAMESPACE_INDEX, namespaceIndexFunc);
  }

  /** How many objects are stored. */
  get size(): number {
    return this.items.size;
  }

  /** The object under `key`. */
  get(key: string): T | undefined {
    return this.items.get(key);
  }

  /** Whether `key` holds an object. */
  has(key: string): boolean {
    return this.items.has(key);
  }

  /** Every object (a new array; O(n)). */
  list(): T[] {
    return [...this.items.values()];
  }

  /** Every key (live iterator: do not write while iterating). */
  keys(): IterableIterator<string> {
    return this.items.keys();
  }

  /** Every key and object (live iterator: do not write while iterating). */
  entries(): IterableIterator<[string, T]> {
    return this.items.entries();
  }

  /**
   * Adds an index and files the objects already present. A name already in
   * use throws: two callers filing differently under one name is a bug.
   */
  addIndexer(name: string, fn: IndexFunc<T>): void {
    if (this.indexes.has(name)) throw new Error(`indexer "${name}" already exists`);
    const index: Index<T> = { fn, byValue: new Map() };
    this.indexes.set(name, index);
    for (const [key, obj] of this.items) this.file(index, key, fn(obj));
  }

  /** Whether an index of that name exists. */
  hasIndex(name: string): boolean {
    return this.indexes.has(name);
  }

  /** Stores `obj` under `key`; returns what it replaced. */
  set(key: string, obj: T): T | undefined {
    const old = this.items.get(key);
    this.items.set(key, obj);
    for (const index of this.indexes.values()) {
      const now = index.fn(obj);
      if (old) {
        const before = index.fn(old);
        if (sameValues(before, now)) continue;
        this.unfile(index, key, before);
      }
      this.file(index, key, now);
    }
    return old;
  }

  /** Removes `key`; returns the object it held. */
  delete(key: string): T | undefined {
    const old = this.items.get(key);
    if (!old) return undefined;
    this.items.delete(key);
    for (const index of this.indexes.values()) this.unfile(index, key, index.fn(old));
    return old;
  }

  /** Objects filed under `value` in index `name` (unknown index: throws). */
  byIndex(name: string, value: string): T[] {
    const out: T[] = [];
    for (const key of this.indexKeys(name, value)) out.push(this.items.get(key)!);
    return out;
  }

  /** Keys filed under `value` in index `name`. */
  indexKeys(name: string, value: string): string[] {
    const index = this.indexes.get(name);
    if (!index) throw new Error(`no indexer named "${name}"`);
    const keys = index.byValue.get(value);
    return keys ? [...keys] : [];
  }

  /** The values index `name` has objects under. */
  indexValues(name: string): string[] {
    const index = this.indexes.get(name);
    if (!index) throw new Error(`no indexer named "${name}"`);
    return [...index.byValue.keys()];
  }

  private file(index: Index<T>, key: string, values: readonly string[]): void {
    for (const v of values) {
      let keys = index.byValue.get(v);
      if (!keys) index.byValue.set(v, (keys = new Set()));
      keys.add(key);
    }
  }

  private unfile(index: Index<T>, key: string, values: readonly string[]): void {
    for (const v of values) {
      const keys = index.byValue.get(v);
      if (!keys) continue;
      keys.delete(key);
      if (keys.size === 0) index.byValue.delete(v);
    }
  }
}
