import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { findResource } from "../../api/resources.js";
import { silentLogger } from "../../machinery/log.js";
import { StatusError } from "../../machinery/status-error.js";
import { openMemoryStore } from "../../storage/backends/memory/memory-store.js";
import { ObjectStore } from "../registry/object-store.js";
import { strategyFor } from "../registry/strategies.js";
import type { KObject } from "../registry/types.js";
import type { AdmissionAttributes, AdmissionPlugin, Operation } from "./admission.js";
import { priority, SYSTEM_CLUSTER_CRITICAL, SYSTEM_NODE_CRITICAL } from "./priority.js";
import { ensureSystemPriorityClasses } from "./system-priority-classes.js";

const podsRes = findResource("", "v1", "pods")!;
const pcRes = findResource("scheduling.k8s.io", "v1", "priorityclasses")!;

function attrs(op: Operation, resource: typeof podsRes, object: KObject | undefined, extra: Partial<AdmissionAttributes> = {}): AdmissionAttributes {
  return {
    operation: op,
    resource,
    subresource: "",
    namespace: resource.namespaced ? "default" : "",
    name: object?.metadata?.name ?? "",
    object,
    user: { username: "alice", groups: [] },
    dryRun: false,
    ...extra,
  };
}

const pod = (spec: Record<string, unknown> = {}): KObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "p", namespace: "default" },
  spec: { containers: [{ name: "c", image: "busybox" }], ...spec },
});

const pc = (name: string, value: number, extra: Record<string, unknown> = {}): KObject => ({
  apiVersion: "scheduling.k8s.io/v1",
  kind: "PriorityClass",
  metadata: { name },
  value,
  ...extra,
});

async function rejects(p: Promise<unknown>, code: number, message: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof StatusError, String(err));
    assert.equal(err.code, code);
    assert.equal(err.status.message, message);
    return true;
  });
}

describe("Priority admission", () => {
  let store: ReturnType<typeof openMemoryStore>;
  let classes: ObjectStore;
  let plugin: AdmissionPlugin;

  beforeEach(async () => {
    store = openMemoryStore();
    classes = new ObjectStore({ store, resource: pcRes, strategy: strategyFor(pcRes) });
    plugin = priority({ priorityClasses: classes });
  });
  afterEach(async () => {
    await store.close();
  });

  const admitPod = async (p: KObject, extra: Partial<AdmissionAttributes> = {}) => {
    const a = attrs("CREATE", podsRes, p, extra);
    await plugin.admit!(a);
    await plugin.validate!(a);
    return p.spec as Record<string, unknown>;
  };

  it("resolves priorityClassName to value and preemption policy", async () => {
    await classes.create(undefined, pc("high", 1000, { preemptionPolicy: "Never" }));
    const spec = await admitPod(pod({ priorityClassName: "high" }));
    assert.equal(spec.priority, 1000);
    assert.equal(spec.preemptionPolicy, "Never");
    assert.equal(spec.priorityClassName, "high");
  });

  it("defaults preemptionPolicy to PreemptLowerPriority when the class has none", async () => {
    await classes.create(undefined, pc("mid", 10));
    const spec = await admitPod(pod({ priorityClassName: "mid" }));
    assert.equal(spec.priority, 10);
    assert.equal(spec.preemptionPolicy, "PreemptLowerPriority");
  });

  it("gives priority 0 when no class is named and none is globalDefault", async () => {
    await classes.create(undefined, pc("other", 50));
    const spec = await admitPod(pod());
    assert.equal(spec.priority, 0);
    assert.equal(spec.preemptionPolicy, "PreemptLowerPriority");
    assert.equal(spec.priorityClassName, undefined);
  });

  it("uses the globalDefault class (lowest value when several) and names it on the pod", async () => {
    await classes.create(undefined, pc("def-a", 300, { globalDefault: true }));
    await classes.create(undefined, pc("def-b", 200, { globalDefault: true, preemptionPolicy: "Never" }));
    const spec = await admitPod(pod());
    assert.equal(spec.priority, 200);
    assert.equal(spec.priorityClassName, "def-b");
    assert.equal(spec.preemptionPolicy, "Never");
  });

  it("accepts a spec.priority that agrees, rejects one that disagrees", async () => {
    await classes.create(undefined, pc("high", 1000));
    const spec = await admitPod(pod({ priorityClassName: "high", priority: 1000 }));
    assert.equal(spec.priority, 1000);
    await rejects(
      admitPod(pod({ priorityClassName: "high", priority: 5 })),
      403,
      'pods "p" is forbidden: the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name',
    );
    await rejects(
      admitPod(pod({ priority: 7 })),
      403,
      'pods "p" is forbidden: the integer value of priority (7) must not be provided in pod spec; priority admission controller computed 0 from the given PriorityClass name',
    );
  });

  it("rejects a preemptionPolicy that disagrees with the class", async () => {
    await classes.create(undefined, pc("high", 1000));
    await rejects(
      admitPod(pod({ priorityClassName: "high", preemptionPolicy: "Never" })),
      403,
      'pods "p" is forbidden: the string value of PreemptionPolicy (Never) must not be provided in pod spec; priority admission controller computed PreemptLowerPriority from the given PriorityClass name',
    );
  });

  it("rejects an unknown class", async () => {
    await rejects(admitPod(pod({ priorityClassName: "nope" })), 403, 'pods "p" is forbidden: no PriorityClass with name nope was found');
  });

  it("allows the system classes in any namespace (as upstream since 1.17)", async () => {
    await ensureSystemPriorityClasses(classes, silentLogger);
    const spec = await admitPod(pod({ priorityClassName: SYSTEM_CLUSTER_CRITICAL }), { namespace: "team-a" });
    assert.equal(spec.priority, 2_000_000_000);
    const spec2 = await admitPod(pod({ priorityClassName: SYSTEM_NODE_CRITICAL }), { namespace: "kube-system" });
    assert.equal(spec2.priority, 2_000_001_000);
  });

  it("keeps priority and preemptionPolicy on pod UPDATE that omits them", async () => {
    const updated = pod({ priorityClassName: "high" });
    const old = pod({ priorityClassName: "high", priority: 1000, preemptionPolicy: "Never" });
    await plugin.admit!(attrs("UPDATE", podsRes, updated, { oldObject: old }));
    assert.equal((updated.spec as Record<string, unknown>).priority, 1000);
    assert.equal((updated.spec as Record<string, unknown>).preemptionPolicy, "Never");
  });

  it("ignores subresources and other resources", async () => {
    const p = pod({ priorityClassName: "nope" });
    await plugin.admit!(attrs("CREATE", podsRes, p, { subresource: "binding" }));
    await plugin.admit!(attrs("CREATE", findResource("", "v1", "configmaps")!, { metadata: { name: "x" } }));
    assert.equal((p.spec as Record<string, unknown>).priority, undefined);
  });

  describe("PriorityClass validation", () => {
    const run = async (op: Operation, obj: KObject, oldObject?: KObject) => {
      const a = attrs(op, pcRes, obj, oldObject ? { oldObject } : {});
      await plugin.admit!(a);
      await plugin.validate!(a);
      return obj;
    };

    it("defaults preemptionPolicy", async () => {
      const obj = await run("CREATE", pc("a", 1));
      assert.equal(obj.preemptionPolicy, "PreemptLowerPriority");
    });

    it("allows only one globalDefault", async () => {
      await classes.create(undefined, pc("first", 1, { globalDefault: true }));
      await rejects(
        run("CREATE", pc("second", 2, { globalDefault: true })),
        403,
        'priorityclasses.scheduling.k8s.io "second" is forbidden: PriorityClass first is already marked as default. Only one default can exist',
      );
      // Marking another existing class default is refused too…
      const other = await classes.create(undefined, pc("other", 3));
      await rejects(
        run("UPDATE", { ...other, globalDefault: true }, other),
        403,
        'priorityclasses.scheduling.k8s.io "other" is forbidden: PriorityClass first is already marked as default. Only one default can exist',
      );
      // …but updating the default class itself is fine.
      const first = await classes.get(undefined, "first");
      await run("UPDATE", { ...first, description: "d" }, first);
    });

    it("reserves the system- prefix", async () => {
      await rejects(
        run("CREATE", pc("system-mine", 10)),
        422,
        "PriorityClass.scheduling.k8s.io \"system-mine\" is invalid: metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class",
      );
      await rejects(
        run("CREATE", pc(SYSTEM_NODE_CRITICAL, 5)),
        422,
        "PriorityClass.scheduling.k8s.io \"system-node-critical\" is invalid: metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: value of system-node-critical PriorityClass must be 2000001000",
      );
      // The real definition passes.
      await run("CREATE", pc(SYSTEM_NODE_CRITICAL, 2_000_001_000));
    });

    it("caps user values at one billion", async () => {
      await run("CREATE", pc("max", 1_000_000_000));
      await rejects(
        run("CREATE", pc("too-big", 1_000_000_001)),
        422,
        'PriorityClass.scheduling.k8s.io "too-big" is invalid: value: Forbidden: maximum allowed value of a user defined priority is 1000000000',
      );
    });

    it("rejects an unsupported preemptionPolicy", async () => {
      await rejects(
        run("CREATE", pc("x", 1, { preemptionPolicy: "Sometimes" })),
        422,
        'PriorityClass.scheduling.k8s.io "x" is invalid: preemptionPolicy: Unsupported value: "Sometimes": supported values: "PreemptLowerPriority", "Never"',
      );
    });

    it("keeps value and preemptionPolicy immutable", async () => {
      const old = await classes.create(undefined, pc("v", 5, { preemptionPolicy: "PreemptLowerPriority" }));
      await rejects(
        run("UPDATE", { ...old, value: 6 }, old),
        422,
        'PriorityClass.scheduling.k8s.io "v" is invalid: value: Forbidden: may not be changed in an update.',
      );
      await rejects(
        run("UPDATE", { ...old, preemptionPolicy: "Never" }, old),
        422,
        'PriorityClass.scheduling.k8s.io "v" is invalid: preemptionPolicy: Invalid value: "Never": field is immutable',
      );
      // Omitting preemptionPolicy on update defaults it back: no change.
      const { preemptionPolicy: _p, ...rest } = old;
      await run("UPDATE", { ...rest, description: "new" }, old);
    });
  });
});

describe("ensureSystemPriorityClasses", () => {
  it("creates both classes with upstream values and is idempotent", async () => {
    const store = openMemoryStore();
    try {
      const classes = new ObjectStore({ store, resource: pcRes, strategy: strategyFor(pcRes) });
      const lines: string[] = [];
      const log = { ...silentLogger, info: (m: string, f?: Record<string, unknown>) => lines.push(`${m} ${String(f?.name)}`) };
      await ensureSystemPriorityClasses(classes, log);
      await ensureSystemPriorityClasses(classes, log);
      const node = await classes.get(undefined, "system-node-critical");
      assert.equal(node.value, 2_000_001_000);
      assert.equal(node.description, "Used for system critical pods that must not be moved from their current node.");
      assert.equal(node.preemptionPolicy, "PreemptLowerPriority");
      const cluster = await classes.get(undefined, "system-cluster-critical");
      assert.equal(cluster.value, 2_000_000_000);
      assert.equal(cluster.description, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.");
      assert.equal((await classes.list(undefined)).items.length, 2);
      assert.deepEqual(lines, ["created PriorityClass system-node-critical", "created PriorityClass system-cluster-critical"]);
    } finally {
      await store.close();
    }
  });

  it("leaves an existing class alone", async () => {
    const store = openMemoryStore();
    try {
      const classes = new ObjectStore({ store, resource: pcRes, strategy: strategyFor(pcRes) });
      await classes.create(undefined, pc("system-node-critical", 2_000_001_000, { description: "custom" }));
      await ensureSystemPriorityClasses(classes, silentLogger);
      assert.equal((await classes.get(undefined, "system-node-critical")).description, "custom");
      assert.equal((await classes.list(undefined)).items.length, 2);
    } finally {
      await store.close();
    }
  });
});
