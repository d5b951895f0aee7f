import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PersistentVolumeClaim, Pod, Volume } from "kubernetes-types/core/v1.js";
import { CycleState } from "../../framework/cycle-state.js";
import { listersFromObjects } from "../../framework/listers.js";
import { PodInfo } from "../../framework/pod-info.js";
import { Snapshot } from "../../framework/snapshot.js";
import { Code } from "../../framework/status.js";
import { testFramework } from "../../testing/framework-helpers.js";
import { makeNode, makePod } from "../../testing/wrappers.js";
import { ErrReasonDiskConflict, ErrReasonReadWriteOncePodConflict, VolumeRestrictions } from "./volume-restrictions.js";

const podWith = (name: string, ...volumes: Volume[]): Pod => {
  const w = makePod(name);
  for (const v of volumes) w.volume(v);
  return w.obj();
};

function run(pod: Pod, existing: Pod[], pvcs: PersistentVolumeClaim[] = []): { code: number; msg: string } {
  const snapshot = Snapshot.fromObjects(
    existing.map((p) => ({ ...p, spec: { ...p.spec!, nodeName: "n" } })),
    [makeNode("n").obj()],
  );
  const pl = new VolumeRestrictions(testFramework({}, { snapshot, listers: listersFromObjects({ persistentVolumeClaims: pvcs }) }));
  const state = new CycleState();
  const pre = pl.preFilter(state, pod);
  if (pre.status) return { code: pre.status.code, msg: pre.status.message() };
  const s = pl.filter(state, pod, snapshot.get("n")!);
  return { code: s ? s.code : Code.Success, msg: s ? s.message() : "" };
}

// Cases from upstream's TestGCEDiskConflicts, TestAWSDiskConflicts, TestRBDDiskConflicts, TestISCSIDiskConflicts and TestAccessModeConflicts.
describe("VolumeRestrictions", () => {
  const gce = (pdName: string, readOnly = false): Volume => ({ name: "v", gcePersistentDisk: { pdName, readOnly } });
  const ebs = (volumeID: string): Volume => ({ name: "v", awsElasticBlockStore: { volumeID } });
  const rbd = (monitors: string[], image: string): Volume => ({ name: "v", rbd: { monitors, pool: "foo", image } });
  const iscsi = (iqn: string): Volume => ({ name: "v", iscsi: { targetPortal: "127.0.0.1:3260", iqn, lun: 0 } });
  const cases: { name: string; pod: Pod; existing: Pod[]; want: [number, string] }[] = [
    { name: "nothing", pod: podWith("p"), existing: [], want: [Code.Skip, ""] },
    { name: "one state", pod: podWith("p", gce("foo")), existing: [podWith("e", gce("foo"))], want: [Code.Unschedulable, ErrReasonDiskConflict] },
    { name: "different disks", pod: podWith("p", gce("foo")), existing: [podWith("e", gce("bar"))], want: [Code.Success, ""] },
    { name: "both read-only", pod: podWith("p", gce("foo", true)), existing: [podWith("e", gce("foo", true))], want: [Code.Success, ""] },
    { name: "aws same volume", pod: podWith("p", ebs("foo")), existing: [podWith("e", ebs("foo"))], want: [Code.Unschedulable, ErrReasonDiskConflict] },
    { name: "rbd overlapping monitors", pod: podWith("p", rbd(["a", "b"], "img")), existing: [podWith("e", rbd(["b", "c"], "img"))], want: [Code.Unschedulable, ErrReasonDiskConflict] },
    { name: "rbd other image", pod: podWith("p", rbd(["a"], "img")), existing: [podWith("e", rbd(["a"], "other"))], want: [Code.Success, ""] },
    { name: "iscsi same iqn", pod: podWith("p", iscsi("iqn.1")), existing: [podWith("e", iscsi("iqn.1"))], want: [Code.Unschedulable, ErrReasonDiskConflict] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(Object.values(run(c.pod, c.existing)), c.want));
  }

  const rwop = (name: string): PersistentVolumeClaim => ({ metadata: { name, namespace: "default" }, spec: { accessModes: ["ReadWriteOncePod"] } });
  const rwo = (name: string): PersistentVolumeClaim => ({ metadata: { name, namespace: "default" }, spec: { accessModes: ["ReadWriteOnce"] } });
  it("rejects a ReadWriteOncePod claim already in use", () => {
    const pod = makePod("p").pvc("claim").obj();
    assert.deepEqual(run(pod, [makePod("e").pvc("claim").obj()], [rwop("claim")]), { code: Code.Unschedulable, msg: ErrReasonReadWriteOncePodConflict });
    assert.deepEqual(run(pod, [], [rwop("claim")]), { code: Code.Skip, msg: "" });
    assert.deepEqual(run(pod, [makePod("e").pvc("claim").obj()], [rwo("claim")]), { code: Code.Skip, msg: "" });
    assert.deepEqual(run(pod, [], []), { code: Code.UnschedulableAndUnresolvable, msg: 'persistentvolumeclaim "claim" not found' });
  });

  it("tracks conflicts through AddPod/RemovePod (preemption what-ifs)", () => {
    const snapshot = Snapshot.fromObjects([makePod("e").pvc("claim").node("n").obj()], [makeNode("n").obj()]);
    const pl = new VolumeRestrictions(testFramework({}, { snapshot, listers: listersFromObjects({ persistentVolumeClaims: [rwop("claim")] }) }));
    const state = new CycleState();
    const pod = makePod("p").pvc("claim").obj();
    pl.preFilter(state, pod);
    const victim = new PodInfo(makePod("e").pvc("claim").obj());
    const clone = state.clone();
    pl.removePod(clone, pod, victim);
    assert.equal(pl.filter(clone, pod, snapshot.get("n")!), null);
    assert.equal(pl.filter(state, pod, snapshot.get("n")!)?.message(), ErrReasonReadWriteOncePodConflict, "the original state is untouched");
    pl.addPod(clone, pod, victim);
    assert.equal(pl.filter(clone, pod, snapshot.get("n")!)?.message(), ErrReasonReadWriteOncePodConflict);
  });
});
