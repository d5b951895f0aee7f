/**
 * topologyToMatchedTermCount: how many matching pods (or terms) each
 * topology pair (label key, value) holds. Kept as key → value → count so
 * lookups by a node's labels allocate nothing; zero counts are deleted, so
 * `size` is the number of pairs with a non-zero count, as upstream's map.
 */
import type { Node } from "kubernetes-types/core/v1.js";

export class TopologyCounts {
  private readonly byKey = new Map<string, Map<string, number>>();
  private pairs = 0;

  /** The number of topology pairs with a non-zero count (len(m)). */
  get size(): number {
    return this.pairs;
  }

  get(key: string, value: string): number {
    return this.byKey.get(key)?.get(value) ?? 0;
  }

  /** Adds `delta` to (key, value), deleting the pair when it drops to zero. */
  add(key: string, value: string, delta: number): void {
    let values = this.byKey.get(key);
    if (!values) this.byKey.set(key, (values = new Map()));
    const prev = values.get(value);
    const next = (prev ?? 0) + delta;
    if (next === 0) {
      if (prev !== undefined) {
        values.delete(value);
        this.pairs--;
        if (values.size === 0) this.byKey.delete(key);
      }
      return;
    }
    if (prev === undefined) this.pairs++;
    values.set(value, next);
  }

  /** update: adds `delta` to the node's pair for `key`, when the node has that label. */
  update(node: Node, key: string, delta: number): void {
    const labels = node.metadata?.labels;
    if (!labels || !Object.hasOwn(labels, key)) return;
    this.add(key, labels[key]!, delta);
  }

  /** Whether any of the node's labels is a pair with a positive count. */
  anyLabelPositive(node: Node): boolean {
    if (this.pairs === 0) return false;
    const labels = node.metadata?.labels ?? {};
    for (const k in labels) {
      const values = this.byKey.get(k);
      if (values && (values.get(labels[k]!) ?? 0) > 0) return true;
    }
    return false;
  }

  clone(): TopologyCounts {
    const c = new TopologyCounts();
    for (const [k, values] of this.byKey) c.byKey.set(k, new Map(values));
    c.pairs = this.pairs;
    return c;
  }

  /** Entries as [key, value, count], for tests and debugging. */
  entries(): [string, string, number][] {
    const out: [string, string, number][] = [];
    for (const [k, values] of this.byKey) for (const [v, n] of values) out.push([k, v, n]);
    return out;
  }
}
