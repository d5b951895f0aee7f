import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Node, Pod } from "kubernetes-types/core/v1.js";
import { Snapshot } from "../../framework/snapshot.js";
import { runScore } from "../../testing/framework-helpers.js";
import { makeNode, makePod } from "../../testing/wrappers.js";
import { balancedResourceScorer } from "../node-resources-fit/scoring.js";
import { BalancedAllocation } from "./balanced-allocation.js";

const node = (name: string, q: Record<string, string>): Node => makeNode(name).capacity(q).obj();

// Cases from upstream's balanced_allocation_test.go.
describe("NodeResourcesBalancedAllocation", () => {
  const cases: { name: string; pod: Pod; nodes: Node[]; existing?: Pod[]; want: [string, number][] }[] = [
    {
      name: "nothing scheduled, nothing requested",
      pod: makePod("p").obj(),
      nodes: [node("node1", { cpu: "4000", memory: "10000" }), node("node2", { cpu: "4000", memory: "10000" })],
      want: [
        ["node1", 100],
        ["node2", 100],
      ],
    },
    {
      name: "nothing scheduled, resources requested, differently sized nodes",
      pod: makePod("p").req({ cpu: "1000", memory: "2000" }).req({ cpu: "2000", memory: "3000" }).obj(),
      nodes: [node("node1", { cpu: "4000", memory: "10000" }), node("node2", { cpu: "6000", memory: "10000" })],
      want: [
        ["node1", 87],
        ["node2", 100],
      ],
    },
    {
      name: "resources requested, pods scheduled with resources",
      pod: makePod("p").req({ cpu: "1000", memory: "2000" }).req({ cpu: "2000", memory: "3000" }).obj(),
      nodes: [node("node1", { cpu: "10000", memory: "20000" }), node("node2", { cpu: "10000", memory: "20000" })],
      existing: [makePod("a").node("node1").req({ cpu: "3000", memory: "0" }).obj(), makePod("b").node("node2").req({ cpu: "3000", memory: "5000" }).obj()],
      want: [
        ["node1", 82],
        ["node2", 95],
      ],
    },
    {
      name: "requested resources exceed node capacity: fractions cap at 1",
      pod: makePod("p").req({ cpu: "3000", memory: "0" }).obj(),
      nodes: [node("node1", { cpu: "4000", memory: "10000" })],
      existing: [makePod("a").node("node1").req({ cpu: "3000", memory: "5000" }).obj()],
      want: [["node1", 75]],
    },
    {
      name: "best-effort pods count as requesting nothing (no non-zero defaults)",
      pod: makePod("p").req({}).obj(),
      nodes: [node("node1", { cpu: "4000", memory: "10000" })],
      want: [["node1", 100]],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const snap = Snapshot.fromObjects(c.existing ?? [], c.nodes);
      const r = runScore(new BalancedAllocation(), c.pod, snap.list());
      assert.ok(Array.isArray(r));
      assert.deepEqual(
        r.map((s) => [s.name, s.score]),
        c.want,
      );
    });
  }

  it("uses the standard deviation for more than two resources", () => {
    // Fractions 0.2, 0.5, 0.8: mean 0.5, std sqrt(0.06) ≈ 0.2449 → 75.
    assert.equal(balancedResourceScorer([2, 5, 8], [10, 10, 10]), 75);
    assert.equal(balancedResourceScorer([1], [2]), 100);
    assert.equal(balancedResourceScorer([5, 0], [10, 0]), 100, "a resource the node lacks is skipped");
  });
});
