import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NodeInfo } from "../framework/node-info.js";
import { makeNode, makePod } from "../testing/wrappers.js";
import { type Contribution, NodeAggregates, NodeMemo, PairTotals } from "./node-memo.js";

/** A deterministic pseudo-random sequence (mulberry32). */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function node(name: string, zone: string): NodeInfo {
  const ni = new NodeInfo();
  ni.setNode(makeNode(name).labels({ zone }).obj());
  return ni;
}

/** Pods labelled app=<group> per zone pair, as a contribution. */
function contribution(ni: NodeInfo, group: string): Contribution[] {
  const n = ni.pods.filter((p) => p.pod.metadata?.labels?.app === group).length;
  return [["zone", ni.node()!.metadata!.labels!.zone!, n]];
}

function fromScratch(nodes: readonly NodeInfo[], group: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const ni of nodes) for (const [, v, n] of contribution(ni, group)) out.set(v, (out.get(v) ?? 0) + n);
  return out;
}

function flatten(t: PairTotals): Map<string, number> {
  const out = new Map<string, number>();
  for (const [v, e] of t.byKey.get("zone") ?? []) out.set(v, e.amount);
  return out;
}

describe("NodeAggregates", () => {
  it("equals a from-scratch sum after random pod, node and list changes", () => {
    const r = rng(42);
    const agg = new NodeAggregates<Contribution[], PairTotals>(
      () => new PairTotals(),
      (t, c, sign) => t.apply(c, sign),
      2,
    );
    let nodes = Array.from({ length: 8 }, (_, i) => node(`n${i}`, `z${i % 3}`));
    let uid = 0;
    for (let step = 0; step < 400; step++) {
      const x = r();
      if (x < 0.5) {
        const ni = nodes[Math.floor(r() * nodes.length)]!;
        ni.addPod(makePod(`p${uid}`).uid(`u${uid++}`).labels({ app: `g${Math.floor(r() * 3)}` }).obj());
      } else if (x < 0.7) {
        const ni = nodes[Math.floor(r() * nodes.length)]!;
        const victim = ni.pods[Math.floor(r() * ni.pods.length)];
        if (victim) ni.removePod(victim.pod);
      } else if (x < 0.8) {
        // A new list: a node joins at a random place, another may leave.
        nodes = [...nodes];
        nodes.splice(Math.floor(r() * nodes.length), 0, node(`m${step}`, `z${step % 4}`));
        if (r() < 0.5) nodes.splice(Math.floor(r() * nodes.length), 1);
      } else if (x < 0.85) {
        // Relabel a node: its generation changes.
        const ni = nodes[Math.floor(r() * nodes.length)]!;
        ni.setNode(makeNode(ni.name).labels({ zone: `z${Math.floor(r() * 4)}` }).obj());
      }
      const group = `g${Math.floor(r() * 3)}`;
      const got = flatten(agg.total(group, nodes, (ni) => contribution(ni, group)));
      const want = fromScratch(nodes, group);
      // Pairs with 0 pods are present when a node with that zone counted, as upstream's maps.
      for (const [k, v] of want) assert.equal(got.get(k) ?? 0, v, `step ${step}, ${group}, ${k}`);
      for (const [k, v] of got) assert.equal(v, want.get(k) ?? 0, `step ${step}, ${group}, ${k}`);
      assert.deepEqual([...got.keys()].sort(), [...new Set(nodes.map((n) => n.node()!.metadata!.labels!.zone!))].sort());
    }
  });
});

describe("NodeAggregates over an unchanged list", () => {
  it("sees a node's change even when more changes happened than the change log keeps", () => {
    const agg = new NodeAggregates<Contribution[], PairTotals>(
      () => new PairTotals(),
      (t, c, sign) => t.apply(c, sign),
    );
    const nodes = Array.from({ length: 4 }, (_, i) => node(`n${i}`, `z${i % 2}`));
    const sum = () => flatten(agg.total("g", nodes, (ni) => contribution(ni, "g")));
    assert.deepEqual(sum(), new Map([["z0", 0], ["z1", 0]]));
    // Twice with the same list: the second call takes the change-log path.
    nodes[1]!.addPod(makePod("a").uid("ua").labels({ app: "g" }).obj());
    assert.deepEqual(sum(), new Map([["z0", 0], ["z1", 1]]));
    // A change to a listed node, buried under more changes than the log holds.
    nodes[0]!.addPod(makePod("b").uid("ub").labels({ app: "g" }).obj());
    const other = node("elsewhere", "z9");
    for (let i = 0; i < 5000; i++) other.addPod(makePod(`x${i}`).uid(`ux${i}`).obj());
    assert.deepEqual(sum(), new Map([["z0", 1], ["z1", 1]]));
    nodes[0]!.removePod(makePod("b").uid("ub").obj());
    assert.deepEqual(sum(), new Map([["z0", 0], ["z1", 1]]));
  });
});

describe("NodeMemo", () => {
  it("recomputes after the node changes", () => {
    const memo = new NodeMemo<number>();
    const ni = node("n", "z");
    let calls = 0;
    const count = () =>
      memo.get(ni, "k", () => {
        calls++;
        return ni.pods.length;
      });
    assert.equal(count(), 0);
    assert.equal(count(), 0);
    assert.equal(calls, 1);
    ni.addPod(makePod("p").obj());
    assert.equal(count(), 1);
    assert.equal(calls, 2);
  });
});
