import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newInTreeRegistry } from "../plugins/registry.js";
import { buildProfiles } from "../profile.js";
import { defaultSchedulerConfig, getDefaultPlugins, mergePluginSet } from "./defaults.js";
import { loadSchedulerConfig } from "./load.js";

const registry = newInTreeRegistry();
const header = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n";

describe("scheduler configuration defaults", () => {
  it("defaults as upstream v1.30: one default-scheduler profile, MultiPoint plugins, backoffs", () => {
    const cfg = defaultSchedulerConfig(registry);
    assert.equal(cfg.parallelism, 16);
    assert.equal(cfg.percentageOfNodesToScore, 0);
    assert.equal(cfg.podInitialBackoffSeconds, 1);
    assert.equal(cfg.podMaxBackoffSeconds, 10);
    assert.equal(cfg.profiles!.length, 1);
    const p = cfg.profiles![0]!;
    assert.equal(p.schedulerName, "default-scheduler");
    const weights = Object.fromEntries((p.plugins!.multiPoint!.enabled ?? []).filter((x) => x.weight).map((x) => [x.name, x.weight]));
    assert.deepEqual(weights, {
      TaintToleration: 3,
      NodeAffinity: 2,
      NodeResourcesFit: 1,
      PodTopologySpread: 2,
      InterPodAffinity: 2,
      NodeResourcesBalancedAllocation: 1,
      ImageLocality: 1,
    });
    assert.deepEqual(p.plugins!.multiPoint!.enabled!.map((x) => x.name), getDefaultPlugins().multiPoint!.enabled!.map((x) => x.name));
    // Default args for the registered plugins that take args, in name order.
    assert.deepEqual(p.pluginConfig, [
      { name: "DefaultPreemption", args: { minCandidateNodesPercentage: 10, minCandidateNodesAbsolute: 100 } },
      { name: "InterPodAffinity", args: { hardPodAffinityWeight: 1, ignorePreferredTermsOfExistingPods: false } },
      { name: "NodeAffinity", args: {} },
      { name: "NodeResourcesBalancedAllocation", args: { resources: [{ name: "cpu", weight: 1 }, { name: "memory", weight: 1 }] } },
      {
        name: "NodeResourcesFit",
        args: { scoringStrategy: { type: "LeastAllocated", resources: [{ name: "cpu", weight: 1 }, { name: "memory", weight: 1 }] } },
      },
      { name: "PodTopologySpread", args: { defaultingType: "System" } },
      { name: "VolumeBinding", args: { bindTimeoutSeconds: 600 } },
    ]);
  });

  it("merges custom plugin sets into the defaults as mergePluginSet does", () => {
    const defaults = { enabled: [{ name: "A" }, { name: "B", weight: 1 }, { name: "C" }] };
    const cases: { name: string; custom: Parameters<typeof mergePluginSet>[1]; want: ReturnType<typeof mergePluginSet> }[] = [
      { name: "nothing custom", custom: {}, want: defaults },
      { name: "disable one", custom: { disabled: [{ name: "B" }] }, want: { enabled: [{ name: "A" }, { name: "C" }], disabled: [{ name: "B" }] } },
      { name: "disable all, enable one", custom: { disabled: [{ name: "*" }], enabled: [{ name: "X" }] }, want: { enabled: [{ name: "X" }], disabled: [{ name: "*" }] } },
      {
        name: "re-configure a default in place, append a new one",
        custom: { enabled: [{ name: "X" }, { name: "B", weight: 5 }] },
        want: { enabled: [{ name: "A" }, { name: "B", weight: 5 }, { name: "C" }, { name: "X" }] },
      },
    ];
    for (const c of cases) assert.deepEqual(mergePluginSet(defaults, c.custom), c.want, c.name);
  });
});

describe("loadSchedulerConfig", () => {
  it("loads a YAML config with profiles, plugin changes and args", () => {
    const r = loadSchedulerConfig(
      `${header}percentageOfNodesToScore: 30
podInitialBackoffSeconds: 2
podMaxBackoffSeconds: 20
profiles:
  - schedulerName: default-scheduler
  - schedulerName: bin-packing
    plugins:
      score:
        disabled:
          - name: NodeResourcesBalancedAllocation
    pluginConfig:
      - name: NodeResourcesFit
        args:
          apiVersion: kubescheduler.config.k8s.io/v1
          kind: NodeResourcesFitArgs
          scoringStrategy:
            type: MostAllocated
            resources:
              - name: cpu
                weight: 2
              - name: memory
`,
      registry,
    );
    assert.ok(r.ok, r.ok ? "" : r.error);
    if (!r.ok) return;
    const cfg = r.config;
    assert.equal(cfg.percentageOfNodesToScore, 30);
    assert.equal(cfg.podMaxBackoffSeconds, 20);
    const packing = cfg.profiles![1]!;
    assert.deepEqual(packing.pluginConfig!.find((c) => c.name === "NodeResourcesFit")!.args, {
      scoringStrategy: { type: "MostAllocated", resources: [{ name: "cpu", weight: 2 }, { name: "memory", weight: 1 }] },
    });
    const built = buildProfiles(cfg, registry, { skipUnregisteredPlugins: true });
    assert.ok(built.ok, built.ok ? "" : built.error);
    if (!built.ok) return;
    assert.deepEqual([...built.frameworks.keys()], ["default-scheduler", "bin-packing"]);
    const bp = built.frameworks.get("bin-packing")!;
    assert.ok(!bp.scorePlugins.some((p) => p.name === "NodeResourcesBalancedAllocation"));
    assert.equal(bp.percentageOfNodesToScore, undefined);
    assert.equal(bp.globalPercentageOfNodesToScore, 30);
  });

  it("rejects bad documents with clear messages", () => {
    const cases: { name: string; yaml: string; want: string | RegExp }[] = [
      {
        name: "old apiVersion",
        yaml: "apiVersion: kubescheduler.config.k8s.io/v1beta3\nkind: KubeSchedulerConfiguration\n",
        want: 'no kind "KubeSchedulerConfiguration" is registered for version "kubescheduler.config.k8s.io/v1beta3": skiff reads KubeSchedulerConfiguration in kubescheduler.config.k8s.io/v1',
      },
      { name: "wrong kind", yaml: "apiVersion: kubescheduler.config.k8s.io/v1\nkind: Pod\n", want: /no kind "Pod" is registered/ },
      { name: "no apiVersion", yaml: "kind: KubeSchedulerConfiguration\n", want: /apiVersion' and 'kind' are required/ },
      { name: "not YAML", yaml: "{{{", want: /couldn't decode as KubeSchedulerConfiguration/ },
      { name: "unknown field", yaml: `${header}percentageOfNodes: 5\n`, want: 'strict decoding error: unknown field "percentageOfNodes"' },
      { name: "unknown profile field", yaml: `${header}profiles:\n  - schedulerName: a\n    plugin: {}\n`, want: 'strict decoding error: unknown field "profiles[0].plugin"' },
      { name: "wrong type", yaml: `${header}podMaxBackoffSeconds: ten\n`, want: "strict decoding error: podMaxBackoffSeconds: expected an integer" },
      {
        name: "args of another kind",
        yaml: `${header}profiles:\n  - pluginConfig:\n      - name: NodeResourcesFit\n        args:\n          kind: NodeAffinityArgs\n`,
        want: 'strict decoding error: profiles[0].pluginConfig[0].args: Invalid value: "NodeAffinityArgs": has to match plugin args (kind "NodeResourcesFitArgs")',
      },
      { name: "percentage out of range", yaml: `${header}percentageOfNodesToScore: 101\n`, want: "percentageOfNodesToScore: Invalid value: 101: not in valid range [0-100]" },
      {
        name: "backoffs",
        yaml: `${header}podInitialBackoffSeconds: 5\npodMaxBackoffSeconds: 2\n`,
        want: "podMaxBackoffSeconds: Invalid value: 2: must be greater than or equal to PodInitialBackoffSeconds",
      },
      {
        name: "two profiles need names",
        yaml: `${header}profiles:\n  - schedulerName: a\n  - {}\n`,
        want: "profiles[1].schedulerName: Required value",
      },
      {
        name: "duplicate profile names",
        yaml: `${header}profiles:\n  - schedulerName: a\n  - schedulerName: a\n`,
        want: 'profiles[1].schedulerName: Duplicate value: "a"',
      },
      {
        name: "invalid plugin args",
        yaml: `${header}profiles:\n  - pluginConfig:\n      - name: NodeResourcesFit\n        args:\n          ignoredResourceGroups: ["example.com/foo"]\n          scoringStrategy:\n            type: LeastAllocated\n            resources:\n              - {name: cpu, weight: 101}\n`,
        want:
          "[profiles[0].pluginConfig[0].args.ignoredResourceGroups[0]: Invalid value: \"example.com/foo\": resource group name can't contain '/', " +
          "profiles[0].pluginConfig[0].args.scoringStrategy.resources[0].weight: Invalid value: 101: resource weight of cpu not in valid range (0, 100]]",
      },
      {
        name: "a RequestedToCapacityRatio shape must be sorted and in range",
        yaml: `${header}profiles:\n  - pluginConfig:\n      - name: NodeResourcesFit\n        args:\n          scoringStrategy:\n            type: RequestedToCapacityRatio\n            requestedToCapacityRatio:\n              shape:\n                - {utilization: 50, score: 5}\n                - {utilization: 10, score: 11}\n`,
        want:
          "[profiles[0].pluginConfig[0].args.scoringStrategy.shape[1].utilization: Invalid value: 10: utilization values must be sorted in increasing order, " +
          "profiles[0].pluginConfig[0].args.scoringStrategy.shape[1].score: Invalid value: 11: not in valid range [0, 10]]",
      },
      {
        name: "balanced allocation weights must be 1",
        yaml: `${header}profiles:\n  - pluginConfig:\n      - name: NodeResourcesBalancedAllocation\n        args:\n          resources: [{name: cpu, weight: 2}]\n`,
        want: "profiles[0].pluginConfig[0].args.resources[0].weight: Invalid value: 2: must be 1",
      },
      {
        name: "bad added node affinity",
        yaml: `${header}profiles:\n  - pluginConfig:\n      - name: NodeAffinity\n        args:\n          addedAffinity:\n            requiredDuringSchedulingIgnoredDuringExecution:\n              nodeSelectorTerms:\n                - matchExpressions:\n                    - {key: a, operator: Foo}\n`,
        want: /profiles\[0\]\.pluginConfig\[0\]\.args\.addedAffinity\.requiredDuringSchedulingIgnoredDuringExecution\.nodeSelectorTerms\[0\]\.matchExpressions\[0\]\.operator: Unsupported value: "Foo"/,
      },
      { name: "extenders", yaml: `${header}extenders: [{urlPrefix: "http://x"}]\n`, want: "extenders: Forbidden: scheduler extenders are not supported by skiff" },
      {
        name: "different queue sorts",
        yaml: `${header}profiles:\n  - schedulerName: a\n  - schedulerName: b\n    plugins:\n      queueSort:\n        enabled: [{name: Other}]\n`,
        want: /profiles\[1\]\.plugins\.queueSort: Invalid value: .*: must be the same for all profiles/,
      },
    ];
    for (const c of cases) {
      const r = loadSchedulerConfig(c.yaml, registry);
      assert.equal(r.ok, false, c.name);
      if (r.ok) continue;
      if (typeof c.want === "string") assert.equal(r.error, c.want, c.name);
      else assert.match(r.error, c.want, c.name);
    }
  });

  it("an unknown plugin fails when the profile is built", () => {
    const r = loadSchedulerConfig(`${header}profiles:\n  - plugins:\n      filter:\n        enabled: [{name: Imaginary}]\n`, registry);
    assert.ok(r.ok);
    if (!r.ok) return;
    const built = buildProfiles(r.config, registry, { skipUnregisteredPlugins: false });
    assert.equal(built.ok, false);
    if (!built.ok) assert.equal(built.error, 'creating profile for scheduler name default-scheduler: FilterPlugin "Imaginary" does not exist');
    const lenient = buildProfiles(r.config, registry, { skipUnregisteredPlugins: true });
    assert.equal(lenient.ok, false, "skipUnregisteredPlugins leaves out only known upstream plugins");
  });
});
