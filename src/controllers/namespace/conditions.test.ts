import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Namespace } from "kubernetes-types/core/v1.js";
import { CONDITION_TYPES, GroupDiscoveryFailedError, NamespaceConditionUpdater } from "./conditions.js";
import { formatGVR, parseGroupVersion } from "./discovery.js";

const at = (s: string) => () => new Date(s);

function conditionsAfter(fill: (u: NamespaceConditionUpdater) => void, ns: Namespace = {}): Record<string, [string, string, string]> {
  const u = new NamespaceConditionUpdater(at("2024-01-01T00:00:00Z"));
  fill(u);
  u.update(ns);
  return Object.fromEntries((ns.status?.conditions ?? []).map((c) => [c.type, [c.status, c.reason ?? "", c.message ?? ""]]));
}

describe("NamespaceConditionUpdater", () => {
  it("reports every type as ok when nothing went wrong", () => {
    assert.deepEqual(
      conditionsAfter(() => {}),
      {
        NamespaceDeletionDiscoveryFailure: ["False", "ResourcesDiscovered", "All resources successfully discovered"],
        NamespaceDeletionGroupVersionParsingFailure: ["False", "ParsedGroupVersions", "All legacy kube types successfully parsed"],
        NamespaceDeletionContentFailure: ["False", "ContentDeleted", "All content successfully deleted, may be waiting on finalization"],
        NamespaceContentRemaining: ["False", "ContentRemoved", "All content successfully removed"],
        NamespaceFinalizersRemaining: ["False", "ContentRemoved", "All content successfully removed"],
      },
    );
  });

  const cases: { name: string; fill: (u: NamespaceConditionUpdater) => void; type: string; want: [string, string, string] }[] = [
    {
      name: "remaining content, sorted, core group with a trailing dot",
      fill: (u) =>
        u.processContentTotals({
          remainingByResource: new Map([
            ["pods.", 3],
            ["configmaps.", 1],
            ["widgets.example.com", 2],
            ["secrets.", 0],
          ]),
          remainingByFinalizer: new Map(),
        }),
      type: "NamespaceContentRemaining",
      want: ["True", "SomeResourcesRemain", "Some resources are remaining: configmaps. has 1 resource instances, pods. has 3 resource instances, widgets.example.com has 2 resource instances"],
    },
    {
      name: "remaining finalizers",
      fill: (u) => u.processContentTotals({ remainingByResource: new Map([["configmaps.", 2]]), remainingByFinalizer: new Map([["b/x", 1], ["a/y", 2]]) }),
      type: "NamespaceFinalizersRemaining",
      want: ["True", "SomeFinalizerRemain", "Some finalizers are remaining: a/y in 2 resource instances, b/x in 1 resource instances"],
    },
    {
      name: "failed discovery of some groups",
      fill: (u) => u.processDiscoverResourcesErr(new GroupDiscoveryFailedError(new Map([["metrics.k8s.io/v1beta1", new Error("the server is currently unable to handle the request")]]))),
      type: "NamespaceDeletionDiscoveryFailure",
      want: [
        "True",
        "DiscoveryFailed",
        "Discovery failed for some groups, 1 failing: unable to retrieve the complete list of server APIs: metrics.k8s.io/v1beta1: the server is currently unable to handle the request",
      ],
    },
    {
      name: "failed discovery altogether",
      fill: (u) => u.processDiscoverResourcesErr(new Error("connection refused")),
      type: "NamespaceDeletionDiscoveryFailure",
      want: ["True", "DiscoveryFailed", "connection refused"],
    },
    {
      name: "group version parsing",
      fill: (u) => u.processGroupVersionErr(new Error("unexpected GroupVersion string: a/b/c")),
      type: "NamespaceDeletionGroupVersionParsingFailure",
      want: ["True", "GroupVersionParsingFailed", "unexpected GroupVersion string: a/b/c"],
    },
    {
      name: "content deletion failures, counted and sorted",
      fill: (u) => {
        u.processDeleteContentErr(new Error("z failed"));
        u.processDeleteContentErr(new Error("a failed"));
      },
      type: "NamespaceDeletionContentFailure",
      want: ["True", "ContentDeletionFailed", "Failed to delete all resource types, 2 remaining: a failed, z failed"],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(conditionsAfter(c.fill)[c.type], c.want));

  it("reports a change only when something changed, moving the transition time on a status flip", () => {
    const ns: Namespace = {};
    const remain = (u: NamespaceConditionUpdater) => u.processContentTotals({ remainingByResource: new Map([["configmaps.", 1]]), remainingByFinalizer: new Map() });
    const first = new NamespaceConditionUpdater(at("2024-01-01T00:00:00Z"));
    remain(first);
    assert.equal(first.update(ns), true);
    assert.equal(ns.status?.conditions?.length, CONDITION_TYPES.length);
    const again = new NamespaceConditionUpdater(at("2024-01-01T00:01:00Z"));
    remain(again);
    assert.equal(again.update(ns), false);
    const cleared = new NamespaceConditionUpdater(at("2024-01-01T00:02:00Z"));
    assert.equal(cleared.update(ns), true);
    const c = ns.status!.conditions!.find((x) => x.type === "NamespaceContentRemaining")!;
    assert.deepEqual([c.status, c.lastTransitionTime], ["False", "2024-01-01T00:02:00Z"]);
    const untouched = ns.status!.conditions!.find((x) => x.type === "NamespaceDeletionDiscoveryFailure")!;
    assert.equal(untouched.lastTransitionTime, "2024-01-01T00:00:00Z");
  });
});

describe("group versions", () => {
  it("parses and prints as apimachinery does", () => {
    assert.deepEqual(parseGroupVersion("v1"), { group: "", version: "v1" });
    assert.deepEqual(parseGroupVersion("apps/v1"), { group: "apps", version: "v1" });
    assert.throws(() => parseGroupVersion("a/b/c"), /unexpected GroupVersion string: a\/b\/c/);
    assert.equal(formatGVR({ group: "", version: "v1", resource: "pods" }), "/v1, Resource=pods");
    assert.equal(formatGVR({ group: "apps", version: "v1", resource: "deployments" }), "apps/v1, Resource=deployments");
  });
});
