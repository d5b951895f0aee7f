/**
 * Per-node memoization for plugins that scan every pod of every node in
 * PreFilter/PreScore (InterPodAffinity, PodTopologySpread). A node's answer
 * to "how many of your pods match X" depends only on its pods and labels,
 * which change exactly when its NodeInfo's generation does, and on X; so it
 * is computed once per (node generation, X) and reused by the following
 * pods of the same workload, which ask the same X. The results are those of
 * the scan itself: this only saves repeating it.
 */
import type { LabelSelector } from "../../machinery/labels.js";
import { changedSince, changePosition, type NodeInfo } from "../framework/node-info.js";
import { NOTHING } from "../framework/pod-info.js";

interface Entry<V> {
  generation: number;
  values: Map<string, V>;
}

export class NodeMemo<V> {
  // Keyed by the NodeInfo object: the snapshot keeps its NodeInfos across cycles; copies made
  // for preemption or nominated pods are other objects (and bump their generation when changed).
  private readonly memo = new WeakMap<NodeInfo, Entry<V>>();

  /** @param maxKeysPerNode bounds the memory per node; the node's entries are dropped when reached. */
  constructor(private readonly maxKeysPerNode = 32) {}

  /** The value for `key` on the node, computed by `compute` unless the node is unchanged since. */
  get(ni: NodeInfo, key: string, compute: () => V): V {
    let e = this.memo.get(ni);
    if (!e || e.generation !== ni.generation) {
      e = { generation: ni.generation, values: new Map() };
      this.memo.set(ni, e);
    }
    let v = e.values.get(key);
    if (v === undefined) {
      if (e.values.size >= this.maxKeysPerNode) e.values.clear();
      v = compute();
      e.values.set(key, v);
    }
    return v;
  }
}

/** A string that identifies what a selector matches (equal strings, equal matches). */
export function selectorKey(sel: LabelSelector): string {
  if (sel === NOTHING) return "∅";
  if (sel.empty) return "*";
  let out = "";
  for (const r of sel.requirements) out += `${r.key}\u0001${r.op}\u0001${r.values.join("\u0002")}\u0003`;
  return out;
}

/** A string that identifies a label set (or namespace labels). */
export function labelsKey(labels: Readonly<Record<string, string>> | undefined): string {
  if (!labels) return "";
  const keys = Object.keys(labels);
  if (keys.length > 1) keys.sort();
  let out = "";
  for (const k of keys) out += `${k}\u0001${labels[k]}\u0003`;
  return out;
}

/** A (topology key, topology value, amount) a node contributes to a total. */
export type Contribution = readonly [key: string, value: string, amount: number];

/** Counts per topology pair that remember how many node contributions each holds. */
export class PairTotals {
  readonly byKey = new Map<string, Map<string, { amount: number; refs: number }>>();

  apply(contributions: readonly Contribution[], sign: 1 | -1): void {
    for (const [k, v, amount] of contributions) {
      let values = this.byKey.get(k);
      if (!values) this.byKey.set(k, (values = new Map()));
      const e = values.get(v);
      if (e) {
        e.amount += sign * amount;
        e.refs += sign;
        if (e.refs === 0) {
          values.delete(v);
          if (values.size === 0) this.byKey.delete(k);
        }
      } else {
        values.set(v, { amount: sign * amount, refs: sign });
      }
    }
  }
}

interface AggregateEntry<C> {
  generation: number;
  contribution: C;
  /** The pass that last saw the node in the list. */
  pass: number;
}

interface AggregateState<C, T> {
  /** Each listed node's counted contribution, by NodeInfo. */
  entries: Map<NodeInfo, AggregateEntry<C>>;
  total: T;
  /** The list the entries were last brought up to date with (snapshot lists are never changed in place). */
  list: readonly NodeInfo[] | undefined;
  /** The NodeInfo change-log position at that time. */
  logPosition: number;
  pass: number;
}

/**
 * The sum over a node list of per-node contributions, kept per key. Given
 * the same list again (the snapshot's lists are rebuilt, never changed in
 * place), only the NodeInfos the change log names since the last call are
 * looked at; given another list, each node costs one lookup unless it is
 * new or changed, wherever it moved in the list. Contributions are also
 * memoized per node and key, so a key dropped from the bounded set and asked
 * again is rebuilt from lookups, not scans.
 */
export class NodeAggregates<C, T> {
  private readonly byKey = new Map<string, AggregateState<C, T>>();
  private readonly memo = new NodeMemo<C>();

  constructor(
    private readonly empty: () => T,
    private readonly apply: (total: T, c: C, sign: 1 | -1) => void,
    private readonly maxKeys = 8,
  ) {}

  /** The up-to-date total for `key` over `nodes` (no node twice); `compute` gives one node's contribution. Do not mutate it. */
  total(key: string, nodes: readonly NodeInfo[], compute: (ni: NodeInfo) => C): T {
    let a = this.byKey.get(key);
    if (a) {
      // Most recently used last, so the oldest key is dropped first.
      this.byKey.delete(key);
    } else {
      if (this.byKey.size >= this.maxKeys) this.byKey.delete(this.byKey.keys().next().value!);
      a = { entries: new Map(), total: this.empty(), list: undefined, logPosition: 0, pass: 0 };
    }
    this.byKey.set(key, a);
    const st = a;
    if (st.list === nodes) {
      const position = changedSince(st.logPosition, (ni) => {
        const e = st.entries.get(ni);
        if (e && e.generation !== ni.generation) this.refresh(st, e, ni, key, compute);
      });
      if (position !== undefined) {
        st.logPosition = position;
        return st.total;
      }
    }
    const position = changePosition();
    const pass = ++st.pass;
    for (let i = 0; i < nodes.length; i++) {
      const ni = nodes[i]!;
      const e = st.entries.get(ni);
      if (!e) {
        const c = this.memo.get(ni, key, () => compute(ni));
        this.apply(st.total, c, 1);
        st.entries.set(ni, { generation: ni.generation, contribution: c, pass });
        continue;
      }
      if (e.generation !== ni.generation) this.refresh(st, e, ni, key, compute);
      e.pass = pass;
    }
    // Nodes no longer listed leave the total.
    if (st.entries.size > nodes.length) {
      for (const [ni, e] of st.entries) {
        if (e.pass === pass) continue;
        this.apply(st.total, e.contribution, -1);
        st.entries.delete(ni);
      }
    }
    st.list = nodes;
    st.logPosition = position;
    return st.total;
  }

  /** Replaces a node's counted contribution with its current one. */
  private refresh(a: AggregateState<C, T>, e: AggregateEntry<C>, ni: NodeInfo, key: string, compute: (ni: NodeInfo) => C): void {
    this.apply(a.total, e.contribution, -1);
    const c = this.memo.get(ni, key, () => compute(ni));
    this.apply(a.total, c, 1);
    e.generation = ni.generation;
    e.contribution = c;
  }
}
