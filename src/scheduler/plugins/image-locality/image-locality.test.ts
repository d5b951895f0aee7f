import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Node, Pod } from "kubernetes-types/core/v1.js";
import { Cache } from "../../framework/cache.js";
import { CycleState } from "../../framework/cycle-state.js";
import { Snapshot } from "../../framework/snapshot.js";
import { testFramework } from "../../testing/framework-helpers.js";
import { ImageLocality, normalizedImageName } from "./image-locality.js";

const mb = 1024 * 1024;

function imageNode(name: string, images: [string[], number][]): Node {
  return { metadata: { name }, status: { images: images.map(([names, size]) => ({ names, sizeBytes: size * mb })) } };
}

function podWith(containers: string[], init: string[] = []): Pod {
  return {
    metadata: { name: "p", namespace: "default", uid: "p" },
    spec: { containers: containers.map((image, i) => ({ name: `c${i}`, image })), initContainers: init.map((image, i) => ({ name: `i${i}`, image })) },
  };
}

const node403002000: [string[], number][] = [
  [["gcr.io/40:latest", "gcr.io/40:v1", "gcr.io/40:v1"], 40],
  [["gcr.io/300:latest", "gcr.io/300:v1"], 300],
  [["gcr.io/2000:latest"], 2000],
];
const node25010: [string[], number][] = [
  [["gcr.io/250:latest"], 250],
  [["gcr.io/10:latest", "gcr.io/10:v1"], 10],
];
const node60040900: [string[], number][] = [
  [["gcr.io/600:latest"], 600],
  [["gcr.io/40:latest"], 40],
  [["gcr.io/900:latest"], 900],
];
const node300600900: [string[], number][] = [
  [["gcr.io/300:latest"], 300],
  [["gcr.io/600:latest"], 600],
  [["gcr.io/900:latest"], 900],
];
const node400030: [string[], number][] = [
  [["gcr.io/4000:latest"], 4000],
  [["gcr.io/30:latest"], 30],
];
const node203040: [string[], number][] = [
  [["gcr.io/20:latest"], 20],
  [["gcr.io/30:latest"], 30],
  [["gcr.io/40:latest"], 40],
];

// upstream TestImageLocalityPriority
describe("ImageLocality", () => {
  const cases: { name: string; pod: Pod; nodes: Node[]; want: [string, number][] }[] = [
    {
      name: "two images spread on two nodes, prefer the larger image one",
      pod: podWith(["gcr.io/40", "gcr.io/250"]),
      nodes: [imageNode("node1", node403002000), imageNode("node2", node25010)],
      want: [
        ["node1", 0],
        ["node2", 5],
      ],
    },
    {
      name: "two images on one node, prefer this node",
      pod: podWith(["gcr.io/40", "gcr.io/300"]),
      nodes: [imageNode("node1", node403002000), imageNode("node2", node25010)],
      want: [
        ["node1", 7],
        ["node2", 0],
      ],
    },
    {
      name: "if exceed limit, use limit",
      pod: podWith(["gcr.io/10", "gcr.io/4000"]),
      nodes: [imageNode("node1", node400030), imageNode("node2", node25010)],
      want: [
        ["node1", 100],
        ["node2", 0],
      ],
    },
    {
      name: "if exceed limit, use limit (with node which has no images present)",
      pod: podWith(["gcr.io/10", "gcr.io/4000"]),
      nodes: [imageNode("node1", node400030), imageNode("node2", node25010), imageNode("node3", [])],
      want: [
        ["node1", 66],
        ["node2", 0],
        ["node3", 0],
      ],
    },
    {
      name: "pod with multiple large images, node2 is preferred",
      pod: podWith(["gcr.io/300", "gcr.io/600", "gcr.io/900"]),
      nodes: [imageNode("node1", node60040900), imageNode("node2", node300600900), imageNode("node3", [])],
      want: [
        ["node1", 32],
        ["node2", 36],
        ["node3", 0],
      ],
    },
    {
      name: "pod with multiple small images",
      pod: podWith(["gcr.io/30", "gcr.io/40"]),
      nodes: [imageNode("node1", node203040), imageNode("node2", node400030)],
      want: [
        ["node1", 1],
        ["node2", 0],
      ],
    },
    {
      name: "include InitContainers: two images spread on two nodes, prefer the larger image one",
      pod: podWith(["gcr.io/30"], ["gcr.io/300"]),
      nodes: [imageNode("node1", node403002000), imageNode("node2", node203040)],
      want: [
        ["node1", 6],
        ["node2", 0],
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const cache = new Cache();
      for (const n of c.nodes) cache.addNode(n);
      const snapshot = new Snapshot();
      cache.updateSnapshot(snapshot);
      const pl = new ImageLocality(testFramework({}, { snapshot }));
      const got = c.nodes.map((n) => [n.metadata!.name!, pl.score(new CycleState(), c.pod, snapshot.get(n.metadata!.name!)!)]);
      assert.deepEqual(got, c.want);
    });
  }

  it("normalizes image names as upstream", () => {
    const digest = "sha256:4813494d137e1631bba301d5acab6e7bb7aa74ce1185d456565ef51d737677b2";
    const cases: [string, string][] = [
      ["root", "root:latest"],
      ["gcr.io:5000/root", "gcr.io:5000/root:latest"],
      ["root:tag", "root:tag"],
      [`root@${digest}`, `root@${digest}`],
    ];
    for (const [input, want] of cases) assert.equal(normalizedImageName(input), want, input);
  });
});
