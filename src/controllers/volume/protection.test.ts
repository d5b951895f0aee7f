/**
 * The PVC and PV protection controllers over fake informers: finalizers
 * stay while the object is in use and go once it is not.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PersistentVolume, PersistentVolumeClaim, Pod } from "kubernetes-types/core/v1.js";
import type { RestClient } from "../../client/rest-client.js";
import { fakeInformers } from "./testing-informers.js";
import { PvcProtectionController, podUsesPVC } from "./pvcprotection/controller.js";
import { PvProtectionController } from "./pvprotection/controller.js";

const PVC_FIN = "kubernetes.io/pvc-protection";
const PV_FIN = "kubernetes.io/pv-protection";
const DELETING = "2024-01-01T00:00:00Z";

function claim(name: string, o: { deleting?: boolean; finalizers?: string[]; owner?: string } = {}): PersistentVolumeClaim {
  return {
    metadata: {
      name,
      namespace: "default",
      uid: `uid-${name}`,
      resourceVersion: "1",
      finalizers: o.finalizers ?? [PVC_FIN],
      ...(o.deleting ? { deletionTimestamp: DELETING } : {}),
      ...(o.owner ? { ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: "p", uid: o.owner, controller: true }] } : {}),
    },
    spec: {},
  };
}

function pod(name: string, o: { node?: string; claim?: string; ephemeral?: string; shutDown?: boolean; phase?: string } = {}): Pod {
  return {
    metadata: { name, namespace: "default", uid: `uid-${name}`, ...(o.shutDown ? { deletionTimestamp: DELETING, deletionGracePeriodSeconds: 0 } : {}) },
    spec: {
      containers: [{ name: "c", image: "i" }],
      ...(o.node ? { nodeName: o.node } : {}),
      volumes: [
        ...(o.claim ? [{ name: "data", persistentVolumeClaim: { claimName: o.claim } }] : []),
        ...(o.ephemeral ? [{ name: o.ephemeral, ephemeral: { volumeClaimTemplate: { spec: {} } } }] : []),
      ],
    },
    status: { phase: o.phase ?? "Running" },
  };
}

describe("podUsesPVC", () => {
  it("only scheduled pods use claims; a shut-down pod keeps only plain claims", () => {
    assert.equal(podUsesPVC(pod("p", { claim: "c" }), claim("c")), false);
    assert.equal(podUsesPVC(pod("p", { claim: "c", node: "n" }), claim("c")), true);
    assert.equal(podUsesPVC(pod("p", { claim: "other", node: "n" }), claim("c")), false);
    const eph = claim("p-scratch", { owner: "uid-p" });
    assert.equal(podUsesPVC(pod("p", { ephemeral: "scratch", node: "n" }), eph), true);
    assert.equal(podUsesPVC(pod("p", { ephemeral: "scratch", node: "n", shutDown: true }), eph), false);
    // An ephemeral claim made for another pod is not this pod's.
    assert.equal(podUsesPVC(pod("p", { ephemeral: "scratch", node: "n" }), claim("p-scratch", { owner: "uid-x" })), false);
  });
});

describe("pvc-protection", () => {
  async function setup(claims: PersistentVolumeClaim[], pods: Pod[], live: Pod[] = pods) {
    const ac = new AbortController();
    const informers = (await fakeInformers({ persistentvolumeclaims: claims, pods }, ac.signal)).factory;
    const updates: PersistentVolumeClaim[] = [];
    const ctrl = new PvcProtectionController({
      rest: {} as RestClient,
      informers,
      api: {
        updateClaim: async (pvc) => {
          updates.push(pvc);
          return pvc;
        },
        listPods: async () => live,
      },
    });
    return { ctrl, updates, stop: () => ac.abort() };
  }

  it("keeps the finalizer of a claim being deleted while a scheduled pod uses it", async () => {
    const s = await setup([claim("c", { deleting: true })], [pod("p", { claim: "c", node: "n" })]);
    await s.ctrl.processPVC("default/c");
    assert.deepEqual(s.updates, []);
    s.stop();
  });

  it("asks the API server when the cache knows no pod", async () => {
    const s = await setup([claim("c", { deleting: true })], [], [pod("p", { claim: "c", node: "n" })]);
    await s.ctrl.processPVC("default/c");
    assert.deepEqual(s.updates, []);
    s.stop();
  });

  it("removes the finalizer once no scheduled pod uses the claim", async () => {
    const s = await setup([claim("c", { deleting: true, finalizers: ["x.io/keep", PVC_FIN] })], [pod("pending", { claim: "c" })]);
    await s.ctrl.processPVC("default/c");
    assert.deepEqual(s.updates.map((u) => u.metadata?.finalizers), [["x.io/keep"]]);
    s.stop();
  });

  it("adds the finalizer to a claim without it", async () => {
    const s = await setup([claim("c", { finalizers: [] })], []);
    await s.ctrl.processPVC("default/c");
    assert.deepEqual(s.updates.map((u) => u.metadata?.finalizers), [[PVC_FIN]]);
    s.stop();
  });
});

describe("pv-protection", () => {
  function volume(phase: string, deleting: boolean, finalizers = [PV_FIN]): PersistentVolume {
    return { metadata: { name: "v", resourceVersion: "1", finalizers, ...(deleting ? { deletionTimestamp: DELETING } : {}) }, spec: {}, status: { phase } };
  }

  async function run(pv: PersistentVolume): Promise<PersistentVolume[]> {
    const ac = new AbortController();
    const informers = (await fakeInformers({ persistentvolumes: [pv] }, ac.signal)).factory;
    const updates: PersistentVolume[] = [];
    const updateVolume = async (v: PersistentVolume) => {
      updates.push(v);
      return v;
    };
    const ctrl = new PvProtectionController({ rest: {} as RestClient, informers, updateVolume });
    await ctrl.processPV("v");
    ac.abort();
    return updates;
  }

  it("keeps a Bound volume's finalizer, drops a Released one's, adds a missing one", async () => {
    assert.deepEqual(await run(volume("Bound", true)), []);
    assert.deepEqual((await run(volume("Released", true))).map((v) => v.metadata?.finalizers), [[]]);
    assert.deepEqual((await run(volume("Available", false, []))).map((v) => v.metadata?.finalizers), [[PV_FIN]]);
    assert.deepEqual(await run(volume("Available", false)), []);
  });
});
