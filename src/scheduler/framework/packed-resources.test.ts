import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fitsRequest } from "../plugins/node-resources-fit/fit.js";
import { makeNode, makePod } from "../testing/wrappers.js";
import {
  NodeInfo,
  PACK_ALLOC_CPU,
  PACK_ALLOC_EPHEMERAL,
  PACK_ALLOC_MEMORY,
  PACK_ALLOWED_PODS,
  PACK_NONZERO_CPU,
  PACK_NONZERO_MEMORY,
  PACK_NUM_PODS,
  PACK_REQ_CPU,
  PACK_REQ_EPHEMERAL,
  PACK_REQ_MEMORY,
  PackedResources,
} from "./node-info.js";
import { computePodResourceRequest } from "./pod-resources.js";

/** The packed slot as the objects say it should be. */
function expected(ni: NodeInfo): number[] {
  const v: number[] = [];
  v[PACK_ALLOC_CPU] = ni.allocatable.milliCPU;
  v[PACK_ALLOC_MEMORY] = ni.allocatable.memory;
  v[PACK_ALLOC_EPHEMERAL] = ni.allocatable.ephemeralStorage;
  v[PACK_ALLOWED_PODS] = ni.allocatable.allowedPodNumber;
  v[PACK_REQ_CPU] = ni.requested.milliCPU;
  v[PACK_REQ_MEMORY] = ni.requested.memory;
  v[PACK_REQ_EPHEMERAL] = ni.requested.ephemeralStorage;
  v[PACK_NUM_PODS] = ni.pods.length;
  v[PACK_NONZERO_CPU] = ni.nonZeroRequested.milliCPU;
  v[PACK_NONZERO_MEMORY] = ni.nonZeroRequested.memory;
  return v;
}

function slot(ni: NodeInfo): number[] {
  return [...ni.pack!.data.subarray(ni.packSlot, ni.packSlot + 10)];
}

const pod = (name: string, cpu: string, memory: string) => makePod(name).uid(`u-${name}`).req({ cpu, memory }).obj();

describe("PackedResources", () => {
  it("keeps a NodeInfo's slot equal to its objects through every change", () => {
    const pack = new PackedResources();
    const ni = new NodeInfo();
    ni.attachPack(pack);
    assert.deepEqual(slot(ni), expected(ni));
    ni.setNode(makeNode("n").capacity({ cpu: "4", memory: "8Gi", pods: "3", "ephemeral-storage": "10Gi" }).obj());
    assert.deepEqual(slot(ni), expected(ni));
    ni.addPod(pod("a", "1", "1Gi"));
    ni.addPod(makePod("b").uid("u-b").obj());
    assert.deepEqual(slot(ni), expected(ni));
    assert.equal(slot(ni)[PACK_NUM_PODS], 2);
    ni.removePod(pod("a", "1", "1Gi"));
    assert.deepEqual(slot(ni), expected(ni));
    const other = new NodeInfo(pod("c", "2", "2Gi"), pod("d", "500m", "1Gi"));
    other.setNode(makeNode("n").capacity({ cpu: "8", memory: "16Gi", pods: "10" }).obj());
    ni.copyFrom(other);
    assert.deepEqual(slot(ni), expected(ni));
    // Copies are unpacked; their changes do not touch the slot.
    const copy = ni.snapshot();
    assert.equal(copy.pack, undefined);
    copy.addPod(pod("e", "1", "1Gi"));
    assert.deepEqual(slot(ni), expected(ni));
  });

  it("reuses released slots and grows without losing values", () => {
    const pack = new PackedResources();
    const nodes = Array.from({ length: 200 }, (_, i) => {
      const ni = new NodeInfo(pod(`p${i}`, `${i + 1}m`, "1Mi"));
      ni.setNode(makeNode(`n${i}`).capacity({ cpu: `${i + 1}`, memory: "1Gi", pods: "110" }).obj());
      ni.attachPack(pack);
      return ni;
    });
    for (const ni of nodes) assert.deepEqual(slot(ni), expected(ni));
    const freed = nodes[7]!.packSlot;
    nodes[7]!.detachPack();
    assert.equal(nodes[7]!.pack, undefined);
    const fresh = new NodeInfo();
    fresh.attachPack(pack);
    assert.equal(fresh.packSlot, freed);
    for (const ni of nodes) if (ni.pack) assert.deepEqual(slot(ni), expected(ni));
  });

  it("gives NodeResourcesFit the same answers as the objects", () => {
    const pack = new PackedResources();
    const requests = [pod("r1", "100m", "128Mi"), pod("r2", "3", "1Gi"), pod("r3", "1", "7Gi"), makePod("r4").uid("u-r4").obj()].map(computePodResourceRequest);
    for (const pods of [0, 1, 2, 3]) {
      const packed = new NodeInfo();
      packed.setNode(makeNode("n").capacity({ cpu: "4", memory: "8Gi", pods: "3" }).obj());
      for (let i = 0; i < pods; i++) packed.addPod(pod(`x${i}`, "1", "2Gi"));
      const plain = packed.snapshot();
      packed.attachPack(pack);
      for (const r of requests) assert.deepEqual(fitsRequest(r, packed), fitsRequest(r, plain), `${pods} pods`);
    }
  });
});
