import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Node, PersistentVolume, PersistentVolumeClaim, Pod } from "kubernetes-types/core/v1.js";
import type { StorageClass } from "kubernetes-types/storage/v1.js";
import { CycleState } from "../../framework/cycle-state.js";
import { listersFromObjects } from "../../framework/listers.js";
import { Code, type Status } from "../../framework/status.js";
import { FakeTimers } from "../../framework/timers.js";
import type { ClusterListers, NamespacedLister, ObjectLister, PluginClient } from "../../framework/types.js";
import { handleFor } from "../../testing/framework-helpers.js";
import { makeNode, makePod } from "../../testing/wrappers.js";
import { ErrReasonBindConflict, ErrReasonNodeConflict, ErrReasonPVNotExist } from "./binder.js";
import { AnnBindCompleted, AnnSelectedNode } from "./pv-helpers.js";
import { VolumeBinding } from "./volume-binding.js";

const immediateSC: StorageClass = { metadata: { name: "immediate-sc" }, provisioner: "kubernetes.io/no-provisioner", volumeBindingMode: "Immediate" };
const waitSC: StorageClass = { metadata: { name: "wait-sc" }, provisioner: "kubernetes.io/no-provisioner", volumeBindingMode: "WaitForFirstConsumer" };
const provisionSC: StorageClass = { metadata: { name: "provision-sc" }, provisioner: "csi.example.com", volumeBindingMode: "WaitForFirstConsumer" };

function claim(name: string, opts: { volumeName?: string; sc?: string; bound?: boolean; phase?: string; storage?: string } = {}): PersistentVolumeClaim {
  const pvc: PersistentVolumeClaim = {
    metadata: { name, namespace: "default", uid: `${name}-uid`, resourceVersion: "1", annotations: opts.bound ? { [AnnBindCompleted]: "yes" } : {} },
    spec: { storageClassName: opts.sc, volumeName: opts.volumeName, accessModes: ["ReadWriteOnce"], resources: { requests: { storage: opts.storage ?? "1Gi" } } },
    status: { phase: opts.phase ?? (opts.bound ? "Bound" : "Pending") },
  };
  return pvc;
}
const boundClaim = (name: string, pv: string) => claim(name, { volumeName: pv, bound: true, sc: "wait-sc" });

function volume(name: string, opts: { sc?: string; affinity?: Record<string, string[]>; capacity?: string; phase?: string } = {}): PersistentVolume {
  const pv: PersistentVolume = {
    metadata: { name, resourceVersion: "1" },
    spec: { storageClassName: opts.sc ?? "wait-sc", capacity: { storage: opts.capacity ?? "1Gi" }, accessModes: ["ReadWriteOnce"] },
    status: { phase: opts.phase ?? "Available" },
  };
  if (opts.affinity) {
    pv.spec!.nodeAffinity = {
      required: { nodeSelectorTerms: [{ matchExpressions: Object.entries(opts.affinity).map(([key, values]) => ({ key, operator: "In", values })) }] },
    };
  }
  return pv;
}

/** The PV as the PV controller leaves it once bound to the claim. */
function boundVolume(pv: PersistentVolume, claimName: string): PersistentVolume {
  return { ...pv, spec: { ...pv.spec, claimRef: { kind: "PersistentVolumeClaim", namespace: "default", name: claimName, uid: `${claimName}-uid` } }, status: { phase: "Bound" } };
}

/** Listers whose PV, PVC and pod lists the test can change (the informers' view). */
class World {
  pvs: PersistentVolume[];
  pvcs: PersistentVolumeClaim[];
  pods: Pod[];
  constructor(
    pvs: PersistentVolume[],
    pvcs: PersistentVolumeClaim[],
    pods: Pod[],
    readonly nodes: Node[],
    readonly classes: StorageClass[] = [immediateSC, waitSC, provisionSC],
  ) {
    this.pvs = pvs;
    this.pvcs = pvcs;
    this.pods = pods;
  }
  listers(): ClusterListers {
    const base = listersFromObjects({ nodes: this.nodes, storageClasses: this.classes });
    const ns = <T extends { metadata?: { name?: string; namespace?: string } }>(items: () => T[]): NamespacedLister<T> => ({
      get: (n, name) => items().find((o) => o.metadata?.namespace === n && o.metadata?.name === name),
      list: (n) => items().filter((o) => n === undefined || o.metadata?.namespace === n),
    });
    const cluster = <T extends { metadata?: { name?: string } }>(items: () => T[]): ObjectLister<T> => ({
      get: (name) => items().find((o) => o.metadata?.name === name),
      list: () => items(),
    });
    return { ...base, persistentVolumes: cluster(() => this.pvs), persistentVolumeClaims: ns(() => this.pvcs), pods: ns(() => this.pods) };
  }
  /** An API server for the plugin's writes: bumps resourceVersion and stores. */
  client(): PluginClient & { calls: string[] } {
    const calls: string[] = [];
    const bump = <T extends { metadata?: { resourceVersion?: string } }>(o: T): T => ({ ...o, metadata: { ...o.metadata, resourceVersion: String(Number(o.metadata?.resourceVersion ?? "0") + 1) } });
    return {
      calls,
      updatePersistentVolume: async (pv) => {
        calls.push(`PUT pv/${pv.metadata?.name}`);
        const stored = bump(pv);
        this.pvs = this.pvs.map((p) => (p.metadata?.name === pv.metadata?.name ? stored : p));
        return stored;
      },
      updatePersistentVolumeClaim: async (pvc) => {
        calls.push(`PUT pvc/${pvc.metadata?.name} selected-node=${pvc.metadata?.annotations?.[AnnSelectedNode] ?? ""}`);
        const stored = bump(pvc);
        this.pvcs = this.pvcs.map((p) => (p.metadata?.name === pvc.metadata?.name ? stored : p));
        return stored;
      },
    };
  }
  /** What the PV controller does: bind the claim to the volume and mark it complete. */
  completeBinding(claimName: string, pvName: string): void {
    this.pvcs = this.pvcs.map((p) =>
      p.metadata?.name === claimName
        ? { ...p, metadata: { ...p.metadata, resourceVersion: "99", annotations: { ...p.metadata?.annotations, [AnnBindCompleted]: "yes" } }, spec: { ...p.spec, volumeName: pvName } }
        : p,
    );
  }
}

const nodeA = () => makeNode("node-a").labels({ foo: "bar" }).obj();
const nodeB = () => makeNode("node-b").labels({ foo: "barbar" }).obj();

function setup(world: World, timers = new FakeTimers(), client?: PluginClient) {
  const h = handleFor(world.pods, world.nodes, { listers: world.listers(), timers, client });
  return { h, pl: new VolumeBinding({ bindTimeoutSeconds: 5 }, h), timers };
}

function reasons(s: Status | null | undefined): [Code, string[]] | null {
  return s ? [s.code, s.reasons()] : null;
}

const podWithClaims = (...claims: string[]) => {
  const w = makePod("pod-a");
  for (const c of claims) w.pvc(c);
  return w.obj();
};

// upstream TestVolumeBinding (its cases, adapted)
describe("VolumeBinding PreFilter and Filter", () => {
  const cases: {
    name: string;
    pod: Pod;
    pvcs?: PersistentVolumeClaim[];
    pvs?: PersistentVolume[];
    wantPreFilter?: [Code, string[]];
    wantNodeNames?: string[];
    wantFilter?: ([Code, string[]] | null)[];
  }[] = [
    { name: "pod has not pvcs", pod: makePod("pod-a").obj(), wantPreFilter: [Code.Skip, []] },
    {
      name: "all bound",
      pod: podWithClaims("pvc-a"),
      pvcs: [boundClaim("pvc-a", "pv-a")],
      pvs: [volume("pv-a")],
      wantFilter: [null, null],
    },
    {
      name: "all bound with local volumes",
      pod: podWithClaims("pvc-a", "pvc-b"),
      pvcs: [boundClaim("pvc-a", "volume-a"), boundClaim("pvc-b", "volume-b")],
      pvs: [volume("volume-a", { affinity: { "kubernetes.io/hostname": ["node-a"] } }), volume("volume-b", { affinity: { "kubernetes.io/hostname": ["node-a"] } })],
      wantNodeNames: ["node-a"],
      wantFilter: [null, [Code.UnschedulableAndUnresolvable, [ErrReasonNodeConflict]]],
    },
    {
      name: "PVC does not exist",
      pod: podWithClaims("pvc-a"),
      wantPreFilter: [Code.UnschedulableAndUnresolvable, ['persistentvolumeclaim "pvc-a" not found']],
    },
    {
      name: "Part of PVCs do not exist",
      pod: podWithClaims("pvc-a", "pvc-b"),
      pvcs: [boundClaim("pvc-a", "pv-a")],
      pvs: [volume("pv-a")],
      wantPreFilter: [Code.UnschedulableAndUnresolvable, ['persistentvolumeclaim "pvc-b" not found']],
    },
    {
      name: "immediate claims not bound",
      pod: podWithClaims("pvc-a"),
      pvcs: [claim("pvc-a", { sc: "immediate-sc" })],
      wantPreFilter: [Code.UnschedulableAndUnresolvable, ["pod has unbound immediate PersistentVolumeClaims"]],
    },
    {
      name: "a pre-bound claim (volumeName set, binding not complete) counts as immediate",
      pod: podWithClaims("pvc-a"),
      pvcs: [claim("pvc-a", { sc: "wait-sc", volumeName: "pv-a" })],
      pvs: [volume("pv-a")],
      wantPreFilter: [Code.UnschedulableAndUnresolvable, ["pod has unbound immediate PersistentVolumeClaims"]],
    },
    {
      name: "unbound claims no matches",
      pod: podWithClaims("pvc-a"),
      pvcs: [claim("pvc-a", { sc: "wait-sc" })],
      wantFilter: [
        [Code.UnschedulableAndUnresolvable, [ErrReasonBindConflict]],
        [Code.UnschedulableAndUnresolvable, [ErrReasonBindConflict]],
      ],
    },
    {
      name: "bound and unbound unsatisfied",
      pod: podWithClaims("pvc-a", "pvc-b"),
      pvcs: [boundClaim("pvc-a", "pv-a"), claim("pvc-b", { sc: "wait-sc" })],
      pvs: [boundVolume(volume("pv-a", { affinity: { foo: ["barbar"] } }), "pvc-a")],
      wantFilter: [[Code.UnschedulableAndUnresolvable, [ErrReasonNodeConflict, ErrReasonBindConflict]], [Code.UnschedulableAndUnresolvable, [ErrReasonBindConflict]]],
    },
    {
      name: "pvc not found",
      pod: podWithClaims("pvc-a"),
      pvcs: [],
      wantPreFilter: [Code.UnschedulableAndUnresolvable, ['persistentvolumeclaim "pvc-a" not found']],
    },
    {
      name: "pv not found",
      pod: podWithClaims("pvc-a"),
      pvcs: [boundClaim("pvc-a", "pv-a")],
      wantFilter: [
        [Code.UnschedulableAndUnresolvable, [ErrReasonPVNotExist]],
        [Code.UnschedulableAndUnresolvable, [ErrReasonPVNotExist]],
      ],
    },
    {
      name: "pv not found claim lost",
      pod: podWithClaims("pvc-a"),
      pvcs: [claim("pvc-a", { volumeName: "volume-a", phase: "Lost" })],
      wantPreFilter: [Code.UnschedulableAndUnresolvable, ['persistentvolumeclaim "pvc-a" bound to non-existent persistentvolume "volume-a"']],
    },
    {
      name: "unbound claim with a matching available PV on one node",
      pod: podWithClaims("pvc-a"),
      pvcs: [claim("pvc-a", { sc: "wait-sc" })],
      pvs: [volume("pv-a", { affinity: { foo: ["bar"] } })],
      wantFilter: [null, [Code.UnschedulableAndUnresolvable, [ErrReasonBindConflict]]],
    },
    {
      name: "unbound claim, PV too small",
      pod: podWithClaims("pvc-a"),
      pvcs: [claim("pvc-a", { sc: "wait-sc", storage: "2Gi" })],
      pvs: [volume("pv-a", { capacity: "1Gi" })],
      wantFilter: [
        [Code.UnschedulableAndUnresolvable, [ErrReasonBindConflict]],
        [Code.UnschedulableAndUnresolvable, [ErrReasonBindConflict]],
      ],
    },
    {
      name: "unbound claim of a provisioning class can be provisioned anywhere",
      pod: podWithClaims("pvc-a"),
      pvcs: [claim("pvc-a", { sc: "provision-sc" })],
      wantFilter: [null, null],
    },
    {
      name: "ephemeral volume whose claim is not created yet",
      pod: makePod("pod-a").ephemeralVolume("scratch").obj(),
      wantPreFilter: [Code.UnschedulableAndUnresolvable, ['waiting for ephemeral volume controller to create the persistentvolumeclaim "pod-a-scratch"']],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const world = new World(c.pvs ?? [], c.pvcs ?? [], [], [nodeA(), nodeB()]);
      const { h, pl } = setup(world);
      const state = new CycleState();
      const pre = pl.preFilter(state, c.pod);
      if (c.wantPreFilter) {
        assert.deepEqual(reasons(pre.status), c.wantPreFilter);
        return;
      }
      assert.equal(pre.status ?? null, null, pre.status?.message());
      assert.deepEqual(pre.result?.nodeNames ? [...pre.result.nodeNames] : undefined, c.wantNodeNames);
      const got = ["node-a", "node-b"].map((n) => reasons(pl.filter(state, c.pod, h.snapshot.get(n)!)));
      assert.deepEqual(got, c.wantFilter);
    });
  }
});

/** Lets pending promise callbacks run. */
const flush = () => new Promise((r) => setImmediate(r));

describe("VolumeBinding Reserve, PreBind and Unreserve", () => {
  it("binds a claim to the matching PV at PreBind and waits for the PV controller", async () => {
    const world = new World([volume("pv-a", { affinity: { foo: ["bar"] } })], [claim("pvc-a", { sc: "wait-sc" })], [], [nodeA(), nodeB()]);
    const client = world.client();
    const { h, pl, timers } = setup(world, new FakeTimers(), client);
    const pod = podWithClaims("pvc-a");
    world.pods = [pod];
    const state = new CycleState();
    pl.preFilter(state, pod);
    assert.equal(pl.filter(state, pod, h.snapshot.get("node-a")!), null);
    assert.equal(pl.reserve(state, pod, "node-a"), null);

    // Meanwhile, another pod's claim cannot take the assumed PV.
    world.pvcs.push(claim("pvc-b", { sc: "wait-sc" }));
    const other = makePod("pod-b").pvc("pvc-b").obj();
    const state2 = new CycleState();
    pl.preFilter(state2, other);
    assert.deepEqual(reasons(pl.filter(state2, other, h.snapshot.get("node-a")!)), [Code.UnschedulableAndUnresolvable, [ErrReasonBindConflict]]);

    const done = pl.preBind(state, pod, "node-a");
    await flush();
    assert.deepEqual(client.calls, ["PUT pv/pv-a"]);
    assert.equal(world.pvs[0]!.spec?.claimRef?.name, "pvc-a");
    assert.equal(world.pvs[0]!.metadata?.annotations?.["pv.kubernetes.io/bound-by-controller"], "yes");
    timers.advance(1000);
    await flush();
    world.completeBinding("pvc-a", "pv-a");
    timers.advance(1000);
    assert.equal(await done, null);
  });

  it("annotates a claim to provision with the selected node, and fails when provisioning is given up", async () => {
    const world = new World([], [claim("pvc-a", { sc: "provision-sc" })], [], [nodeA(), nodeB()]);
    const client = world.client();
    const { h, pl, timers } = setup(world, new FakeTimers(), client);
    const pod = podWithClaims("pvc-a");
    world.pods = [pod];
    const state = new CycleState();
    pl.preFilter(state, pod);
    assert.equal(pl.filter(state, pod, h.snapshot.get("node-b")!), null);
    assert.equal(pl.reserve(state, pod, "node-b"), null);
    const done = pl.preBind(state, pod, "node-b");
    await flush();
    assert.deepEqual(client.calls, ["PUT pvc/pvc-a selected-node=node-b"]);
    // The provisioner signals failure by removing the annotation.
    world.pvcs = world.pvcs.map((p) => ({ ...p, metadata: { ...p.metadata, resourceVersion: "50", annotations: {} } }));
    timers.advance(1000);
    const s = await done;
    assert.equal(s?.code, Code.Error);
    assert.equal(s?.message(), 'binding volumes: provisioning failed for PVC "pvc-a"');
  });

  it("times out after bindTimeoutSeconds", async () => {
    const world = new World([], [claim("pvc-a", { sc: "provision-sc" })], [], [nodeA()]);
    const { h, pl, timers } = setup(world, new FakeTimers(), world.client());
    const pod = podWithClaims("pvc-a");
    world.pods = [pod];
    const state = new CycleState();
    pl.preFilter(state, pod);
    pl.filter(state, pod, h.snapshot.get("node-a")!);
    pl.reserve(state, pod, "node-a");
    const done = pl.preBind(state, pod, "node-a");
    for (let i = 0; i < 6; i++) {
      await flush();
      timers.advance(1000);
    }
    assert.equal((await done)?.message(), "binding volumes: context deadline exceeded");
  });

  it("without an API client, binding is an error; pods whose claims are bound need none", async () => {
    const world = new World([volume("pv-a")], [claim("pvc-a", { sc: "wait-sc" }), boundClaim("pvc-b", "pv-b")], [], [nodeA()]);
    world.pvs.push(volume("pv-b"));
    const { h, pl } = setup(world);
    const pod = podWithClaims("pvc-a");
    const state = new CycleState();
    pl.preFilter(state, pod);
    pl.filter(state, pod, h.snapshot.get("node-a")!);
    pl.reserve(state, pod, "node-a");
    assert.equal((await pl.preBind(state, pod, "node-a"))?.message(), "no API client is configured for volume binding");
    const bound = podWithClaims("pvc-b");
    const s2 = new CycleState();
    pl.preFilter(s2, bound);
    pl.filter(s2, bound, h.snapshot.get("node-a")!);
    assert.equal(pl.reserve(s2, bound, "node-a"), null);
    assert.equal(await pl.preBind(s2, bound, "node-a"), null);
  });

  it("Unreserve gives the assumed PV back", () => {
    const world = new World([volume("pv-a")], [claim("pvc-a", { sc: "wait-sc" }), claim("pvc-b", { sc: "wait-sc" })], [], [nodeA()]);
    const { h, pl } = setup(world);
    const pod = podWithClaims("pvc-a");
    const state = new CycleState();
    pl.preFilter(state, pod);
    pl.filter(state, pod, h.snapshot.get("node-a")!);
    pl.reserve(state, pod, "node-a");
    const other = makePod("pod-b").pvc("pvc-b").obj();
    const probe = () => {
      const s = new CycleState();
      pl.preFilter(s, other);
      return pl.filter(s, other, h.snapshot.get("node-a")!);
    };
    assert.notEqual(probe(), null);
    pl.unreserve(state, pod, "node-a");
    assert.equal(probe(), null);
  });

  it("a pod without claims is all bound", async () => {
    const world = new World([], [], [], [nodeA()]);
    const { pl } = setup(world);
    const state = new CycleState();
    assert.equal(pl.preFilter(state, makePod("p").obj()).status?.code, Code.Skip);
    assert.equal(pl.reserve(state, makePod("p").obj(), "node-a"), null);
    assert.equal(await pl.preBind(state, makePod("p").obj(), "node-a"), null);
  });
});

describe("VolumeBindingArgs", () => {
  it("defaults and validates as upstream", async () => {
    const { volumeBindingRegistration: r } = await import("./volume-binding.js");
    assert.deepEqual(r.defaultArgs!({}), { bindTimeoutSeconds: 600 });
    assert.deepEqual(r.validateArgs!("args", { bindTimeoutSeconds: -1 }), ["args.bindTimeoutSeconds: Invalid value: -1: invalid BindTimeoutSeconds, should not be a negative value"]);
  });
});
