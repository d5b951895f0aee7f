import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { defaultSchedulerConfig } from "../config/defaults.js";
import type { KubeSchedulerProfile, Plugins } from "../config/types.js";
import { newInTreeRegistry } from "../plugins/registry.js";
import { makeNode, makePod } from "../testing/wrappers.js";
import { CycleState } from "./cycle-state.js";
import { Framework } from "./framework.js";
import { NodeInfo } from "./node-info.js";
import type { Registry } from "./registry.js";
import { Code, Status } from "./status.js";
import { FakeTimers } from "./timers.js";
import type { NodeScore, Plugin } from "./types.js";

/** A configurable fake plugin implementing every extension point. */
class FakePlugin implements Plugin {
  calls: string[];
  constructor(
    readonly name: string,
    private readonly behavior: {
      preFilter?: { result?: { nodeNames?: Set<string> } | null; status?: Status | null };
      filter?: (ni: NodeInfo) => Status | null;
      score?: (ni: NodeInfo) => number;
      normalize?: (scores: NodeScore[]) => void;
      reserve?: Status | null;
      permit?: { status: Status | null; timeoutMs?: number };
      bind?: Status | null;
      postFilter?: { status: Status | null };
    },
    calls: string[],
  ) {
    this.calls = calls;
  }
  preFilter() {
    this.calls.push(`${this.name}.preFilter`);
    return this.behavior.preFilter ?? {};
  }
  preFilterExtensions() {
    return null;
  }
  filter(_s: CycleState, _p: Pod, ni: NodeInfo) {
    this.calls.push(`${this.name}.filter(${ni.name})`);
    return this.behavior.filter?.(ni) ?? null;
  }
  score(_s: CycleState, _p: Pod, ni: NodeInfo) {
    return this.behavior.score?.(ni) ?? 0;
  }
  scoreExtensions() {
    const n = this.behavior.normalize;
    return n
      ? {
          normalizeScore: (_s: CycleState, _p: Pod, scores: NodeScore[]) => {
            n(scores);
            return null;
          },
        }
      : null;
  }
  reserve() {
    this.calls.push(`${this.name}.reserve`);
    return this.behavior.reserve ?? null;
  }
  unreserve() {
    this.calls.push(`${this.name}.unreserve`);
  }
  permit() {
    return this.behavior.permit ?? { status: null };
  }
  async bind() {
    this.calls.push(`${this.name}.bind`);
    return this.behavior.bind === undefined ? null : this.behavior.bind;
  }
  postFilter() {
    return this.behavior.postFilter ?? { status: null };
  }
}

function fakeRegistry(plugins: FakePlugin[]): Registry {
  const r = newInTreeRegistry();
  for (const p of plugins) r.set(p.name, { factory: () => p });
  return r;
}

function build(plugins: FakePlugin[], config: Plugins, opts = {}): Framework {
  const profile: KubeSchedulerProfile = {
    schedulerName: "test",
    plugins: { queueSort: { enabled: [{ name: "PrioritySort" }] }, bind: { enabled: [{ name: "DefaultBinder" }] }, ...config },
  };
  const r = Framework.create(fakeRegistry(plugins), profile, opts);
  if (!r.ok) throw new Error(r.error);
  return r.framework;
}

function nodeInfo(name: string): NodeInfo {
  const ni = new NodeInfo();
  ni.setNode(makeNode(name).obj());
  return ni;
}

const pod = makePod("p").obj();

describe("Framework construction", () => {
  it("expands the default MultiPoint set to each extension point, leaving out unimplemented plugins on request", () => {
    const registry = newInTreeRegistry();
    const profile = defaultSchedulerConfig(registry).profiles![0]!;
    const strict = Framework.create(registry, profile);
    assert.equal(strict.ok, false);
    if (!strict.ok) {
      assert.equal(
        strict.error,
        'PreFilterPlugin "EBSLimits" does not exist (an upstream plugin skiff does not implement yet; build the profile with skipUnregisteredPlugins to leave it out)',
      );
    }
    const r = Framework.create(registry, profile, { skipUnregisteredPlugins: true });
    assert.ok(r.ok);
    if (!r.ok) return;
    const f = r.framework;
    assert.deepEqual(f.skippedPlugins, ["EBSLimits", "GCEPDLimits", "NodeVolumeLimits", "AzureDiskLimits", "VolumeZone"]);
    const names = (list: Plugin[]) => list.map((p) => p.name);
    assert.deepEqual(names(f.preEnqueuePlugins), ["SchedulingGates"]);
    assert.equal(f.runPreEnqueuePlugins(makePod("g").schedulingGates(["a"]).obj())?.plugin, "SchedulingGates");
    assert.equal(f.runPreEnqueuePlugins(makePod("p").obj()), null);
    assert.deepEqual(names(f.queueSortPlugins), ["PrioritySort"]);
    assert.deepEqual(names(f.preFilterPlugins), ["NodeAffinity", "NodePorts", "NodeResourcesFit", "VolumeRestrictions", "VolumeBinding", "PodTopologySpread", "InterPodAffinity"]);
    assert.deepEqual(names(f.filterPlugins), [
      "NodeUnschedulable",
      "NodeName",
      "TaintToleration",
      "NodeAffinity",
      "NodePorts",
      "NodeResourcesFit",
      "VolumeRestrictions",
      "VolumeBinding",
      "PodTopologySpread",
      "InterPodAffinity",
    ]);
    assert.deepEqual(names(f.postFilterPlugins), ["DefaultPreemption"]);
    assert.deepEqual(names(f.preScorePlugins), [
      "TaintToleration",
      "NodeAffinity",
      "NodeResourcesFit",
      "VolumeBinding",
      "PodTopologySpread",
      "InterPodAffinity",
      "NodeResourcesBalancedAllocation",
    ]);
    assert.deepEqual(names(f.reservePlugins), ["VolumeBinding"]);
    assert.deepEqual(names(f.preBindPlugins), ["VolumeBinding"]);
    assert.deepEqual(
      f.listPlugins().score!.enabled,
      [
        { name: "TaintToleration", weight: 3 },
        { name: "NodeAffinity", weight: 2 },
        { name: "NodeResourcesFit", weight: 1 },
        { name: "VolumeBinding", weight: 1 },
        { name: "PodTopologySpread", weight: 2 },
        { name: "InterPodAffinity", weight: 2 },
        { name: "NodeResourcesBalancedAllocation", weight: 1 },
        { name: "ImageLocality", weight: 1 },
      ],
    );
    assert.deepEqual(names(f.bindPlugins), ["DefaultBinder"]);
    // Only plugins that can reject decide requeueing.
    assert.deepEqual(
      f.enqueueExtensions().map((e) => e.name).sort(),
      [
        "InterPodAffinity",
        "NodeAffinity",
        "NodeName",
        "NodePorts",
        "NodeResourcesFit",
        "NodeUnschedulable",
        "PodTopologySpread",
        "SchedulingGates",
        "TaintToleration",
        "VolumeBinding",
        "VolumeRestrictions",
      ],
    );
  });

  it("reports configuration errors as upstream's NewFramework does", () => {
    const registry = newInTreeRegistry();
    const cases: { name: string; profile: KubeSchedulerProfile; want: string }[] = [
      { name: "unknown plugin", profile: { schedulerName: "s", plugins: { filter: { enabled: [{ name: "Nope" }] } } }, want: 'FilterPlugin "Nope" does not exist' },
      {
        name: "wrong extension point",
        profile: { schedulerName: "s", plugins: { filter: { enabled: [{ name: "ImageLocality" }] } } },
        want: 'plugin "ImageLocality" does not extend FilterPlugin plugin',
      },
      {
        name: "no queue sort",
        profile: { schedulerName: "s", plugins: { bind: { enabled: [{ name: "DefaultBinder" }] } } },
        want: 'only one queue sort plugin required for profile with scheduler name "s", but got 0',
      },
      {
        name: "no binder",
        profile: { schedulerName: "s", plugins: { queueSort: { enabled: [{ name: "PrioritySort" }] } } },
        want: 'at least one bind plugin is needed for profile with scheduler name "s"',
      },
      {
        name: "registered twice",
        profile: {
          schedulerName: "s",
          plugins: { queueSort: { enabled: [{ name: "PrioritySort" }] }, bind: { enabled: [{ name: "DefaultBinder" }, { name: "DefaultBinder" }] } },
        },
        want: 'plugin "DefaultBinder" already registered as "BindPlugin"',
      },
      {
        name: "repeated config",
        profile: { schedulerName: "s", pluginConfig: [{ name: "NodeAffinity" }, { name: "NodeAffinity" }] },
        want: "repeated config for plugin NodeAffinity",
      },
      {
        name: "bad args",
        profile: {
          schedulerName: "s",
          plugins: { multiPoint: { enabled: [{ name: "PrioritySort" }, { name: "DefaultBinder" }, { name: "NodeResourcesFit" }] } },
          pluginConfig: [{ name: "NodeResourcesFit", args: { scoringStrategy: { type: "Nope", resources: [{ name: "cpu", weight: 1 }] } } }],
        },
        want: 'initializing plugin "NodeResourcesFit": scoringStrategy.type: Unsupported value: "Nope": supported values: "LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"',
      },
    ];
    for (const c of cases) {
      const r = Framework.create(registry, c.profile);
      assert.equal(r.ok, false, c.name);
      if (!r.ok) assert.equal(r.error, c.want, c.name);
    }
  });

  it("lets a specific extension point override MultiPoint and keeps upstream's ordering", () => {
    const calls: string[] = [];
    const a = new FakePlugin("A", {}, calls);
    const b = new FakePlugin("B", {}, calls);
    const c = new FakePlugin("C", {}, calls);
    const f = build([a, b, c], {
      multiPoint: { enabled: [{ name: "A" }, { name: "B", weight: 5 }, { name: "C" }] },
      filter: { enabled: [{ name: "C" }], disabled: [{ name: "A" }] },
      score: { enabled: [{ name: "B", weight: 7 }] },
    });
    assert.deepEqual(
      f.filterPlugins.map((p) => p.name),
      ["C", "B"],
      "overridden C first, then MultiPoint B; A disabled",
    );
    assert.deepEqual(f.scorePlugins.map((p) => p.name), ["B", "A", "C"]);
    assert.equal(f.scoreWeight("B"), 7, "the Score-specific weight wins");
    assert.equal(f.scoreWeight("A"), 1, "weight 0 means 1");
  });
});

describe("Framework extension points", () => {
  it("merges PreFilter node sets, honours Skip, and words an empty intersection as upstream", () => {
    const calls: string[] = [];
    const a = new FakePlugin("A", { preFilter: { result: { nodeNames: new Set(["n1", "n2"]) } } }, calls);
    const b = new FakePlugin("B", { preFilter: { result: { nodeNames: new Set(["n2", "n3"]) } } }, calls);
    const s = new FakePlugin("S", { preFilter: { status: Status.of(Code.Skip) } }, calls);
    const f = build([a, b, s], { preFilter: { enabled: [{ name: "A" }, { name: "S" }, { name: "B" }] }, filter: { enabled: [{ name: "S" }] } });
    const state = new CycleState();
    const r = f.runPreFilterPlugins(state, pod);
    assert.equal(r.status, null);
    assert.deepEqual([...r.result!.nodeNames!], ["n2"]);
    assert.ok(state.skipFilterPlugins.has("S"));
    assert.equal(f.runFilterPlugins(state, pod, nodeInfo("n2")), null);
    assert.ok(!calls.includes("S.filter(n2)"), "a skipped plugin's Filter does not run");

    const c = new FakePlugin("C", { preFilter: { result: { nodeNames: new Set(["n9"]) } } }, calls);
    const f2 = build([a, b, c], { preFilter: { enabled: [{ name: "A" }, { name: "B" }, { name: "C" }] } });
    const r2 = f2.runPreFilterPlugins(new CycleState(), pod);
    assert.equal(r2.status?.code, Code.UnschedulableAndUnresolvable);
    assert.equal(r2.status?.message(), "node(s) didn't satisfy plugin(s) [A B C] simultaneously");
    const f3 = build([c, a], { preFilter: { enabled: [{ name: "A" }, { name: "C" }] } });
    assert.equal(f3.runPreFilterPlugins(new CycleState(), pod).status?.message(), "node(s) didn't satisfy plugin(s) [A C] simultaneously");
    const one = new FakePlugin("One", { preFilter: { result: { nodeNames: new Set() } } }, calls);
    assert.equal(build([one], { preFilter: { enabled: [{ name: "One" }] } }).runPreFilterPlugins(new CycleState(), pod).status?.message(), "node(s) didn't satisfy plugin One");
  });

  it("runs every PreFilter after an Unschedulable one, but stops at UnschedulableAndUnresolvable", () => {
    const calls: string[] = [];
    const u = new FakePlugin("U", { preFilter: { status: Status.of(Code.Unschedulable, "u") } }, calls);
    const x = new FakePlugin("X", { preFilter: { status: Status.of(Code.UnschedulableAndUnresolvable, "x") } }, calls);
    const later = new FakePlugin("Later", {}, calls);
    const f = build([u, later], { preFilter: { enabled: [{ name: "U" }, { name: "Later" }] } });
    const r = f.runPreFilterPlugins(new CycleState(), pod);
    assert.equal(r.status?.message(), "u");
    assert.equal(r.status?.plugin, "U");
    assert.ok(calls.includes("Later.preFilter"));
    calls.length = 0;
    const f2 = build([x, later], { preFilter: { enabled: [{ name: "X" }, { name: "Later" }] } });
    assert.equal(f2.runPreFilterPlugins(new CycleState(), pod).status?.plugin, "X");
    assert.ok(!calls.includes("Later.preFilter"));
  });

  it("stops filtering a node at the first rejection and wraps non-rejection codes as errors", () => {
    const calls: string[] = [];
    const a = new FakePlugin("A", { filter: (ni) => (ni.name === "bad" ? Status.of(Code.Unschedulable, "nope") : null) }, calls);
    const b = new FakePlugin("B", { filter: () => Status.of(Code.Error, "odd") }, calls);
    const f = build([a, b], { filter: { enabled: [{ name: "A" }, { name: "B" }] } });
    const s = f.runFilterPlugins(new CycleState(), pod, nodeInfo("bad"));
    assert.equal(s?.plugin, "A");
    assert.ok(!calls.includes("B.filter(bad)"));
    const e = f.runFilterPlugins(new CycleState(), pod, nodeInfo("good"));
    assert.equal(e?.code, Code.Error);
    assert.equal(e?.message(), 'running "B" filter plugin: odd');
  });

  it("normalizes, range-checks and weights scores", () => {
    const calls: string[] = [];
    const a = new FakePlugin(
      "A",
      {
        score: (ni) => (ni.name === "n1" ? 10 : 20),
        normalize: (scores) => {
          for (const s of scores) s.score *= 5;
        },
      },
      calls,
    );
    const b = new FakePlugin("B", { score: () => 100 }, calls);
    const f = build([a, b], { score: { enabled: [{ name: "A", weight: 2 }, { name: "B", weight: 3 }] } });
    const r = f.runScorePlugins(new CycleState(), pod, [nodeInfo("n1"), nodeInfo("n2")]);
    assert.equal(r.status, null);
    assert.deepEqual(
      r.scores.map((s) => [s.name, s.totalScore]),
      [
        ["n1", 50 * 2 + 300],
        ["n2", 100 * 2 + 300],
      ],
    );
    const bad = new FakePlugin("Bad", { score: () => 101 }, calls);
    const f2 = build([bad], { score: { enabled: [{ name: "Bad" }] } });
    assert.equal(
      f2.runScorePlugins(new CycleState(), pod, [nodeInfo("n1")]).status?.message(),
      'applying score defaultWeights on Score plugins: plugin "Bad" returns an invalid score 101, it should in the range of [0, 100] after normalizing',
    );
  });

  it("unreserves in reverse order and binds with the first non-Skip binder", async () => {
    const calls: string[] = [];
    const r1 = new FakePlugin("R1", {}, calls);
    const r2 = new FakePlugin("R2", { reserve: Status.of(Code.Unschedulable, "full") }, calls);
    const skip = new FakePlugin("SkipBinder", { bind: Status.of(Code.Skip) }, calls);
    const binder = new FakePlugin("Binder", {}, calls);
    const f = build([r1, r2, skip, binder], {
      reserve: { enabled: [{ name: "R1" }, { name: "R2" }] },
      bind: { enabled: [{ name: "SkipBinder" }, { name: "Binder" }] },
    });
    const s = f.runReservePluginsReserve(new CycleState(), pod, "n1");
    assert.equal(s?.plugin, "R2");
    f.runReservePluginsUnreserve(new CycleState(), pod, "n1");
    assert.deepEqual(calls, ["R1.reserve", "R2.reserve", "R2.unreserve", "R1.unreserve"]);
    calls.length = 0;
    assert.equal(await f.runBindPlugins(new CycleState(), pod, "n1"), null);
    assert.deepEqual(calls, ["SkipBinder.bind", "Binder.bind"]);
  });

  it("holds pods at Permit until allowed, rejected or timed out", async () => {
    const timers = new FakeTimers();
    const calls: string[] = [];
    const w1 = new FakePlugin("W1", { permit: { status: Status.of(Code.Wait), timeoutMs: 10_000 } }, calls);
    const w2 = new FakePlugin("W2", { permit: { status: Status.of(Code.Wait), timeoutMs: 20 * 60_000 } }, calls);
    const f = build([w1, w2], { permit: { enabled: [{ name: "W1" }, { name: "W2" }] } }, { timers });
    const p1 = makePod("p1").obj();
    const s = f.runPermitPlugins(new CycleState(), p1, "n1");
    assert.equal(s?.code, Code.Wait);
    assert.equal(s?.message(), 'one or more plugins asked to wait and no plugin rejected pod "p1"');
    const wp = f.getWaitingPod("p1")!;
    assert.deepEqual(wp.getPendingPlugins().sort(), ["W1", "W2"]);
    const waiting = f.waitOnPermit(p1);
    wp.allow("W1");
    wp.allow("W2");
    assert.equal(await waiting, null);
    assert.equal(f.getWaitingPod("p1"), undefined);

    // A timeout rejects, naming the plugin and the wait.
    const p2 = makePod("p2").obj();
    f.runPermitPlugins(new CycleState(), p2, "n1");
    const waiting2 = f.waitOnPermit(p2);
    f.getWaitingPod("p2")!.allow("W2");
    timers.advance(10_000);
    const rejected = await waiting2;
    assert.equal(rejected?.code, Code.Unschedulable);
    assert.equal(rejected?.plugin, "W1");
    assert.equal(rejected?.message(), "rejected due to timeout after waiting 10s at plugin W1");

    // Timeouts are capped at 15 minutes; rejectWaitingPod rejects.
    const p3 = makePod("p3").obj();
    f.runPermitPlugins(new CycleState(), p3, "n1");
    const waiting3 = f.waitOnPermit(p3);
    f.getWaitingPod("p3")!.allow("W1");
    timers.advance(15 * 60_000);
    assert.equal((await waiting3)?.message(), "rejected due to timeout after waiting 15m0s at plugin W2");
    const p4 = makePod("p4").obj();
    f.runPermitPlugins(new CycleState(), p4, "n1");
    const waiting4 = f.waitOnPermit(p4);
    assert.ok(f.rejectWaitingPod("p4"));
    assert.equal((await waiting4)?.message(), "removed");
    assert.equal(timers.size, 0, "no timer left behind");
  });

  it("combines Unschedulable PostFilter results and stops at success", () => {
    const calls: string[] = [];
    const a = new FakePlugin("A", { postFilter: { status: Status.of(Code.Unschedulable, "a1") } }, calls);
    const b = new FakePlugin("B", { postFilter: { status: Status.of(Code.Unschedulable, "b1") } }, calls);
    const f = build([a, b], { postFilter: { enabled: [{ name: "A" }, { name: "B" }] } });
    const r = f.runPostFilterPlugins(new CycleState(), pod, new Map());
    assert.equal(r.status?.message(), "a1, b1");
    assert.equal(r.status?.plugin, "A");
    const ok = new FakePlugin("OK", { postFilter: { status: null } }, calls);
    assert.equal(build([ok, b], { postFilter: { enabled: [{ name: "OK" }, { name: "B" }] } }).runPostFilterPlugins(new CycleState(), pod, new Map()).status, null);
  });
});
