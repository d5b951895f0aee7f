import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findResource, type ResourceType } from "../../api/resources.js";
import { StatusError } from "../../machinery/status-error.js";
import type { KList, KObject } from "../registry/types.js";
import type { AdmissionAttributes, Operation } from "./admission.js";
import { defaultLimitRangeItem, LIMIT_RANGER_ANNOTATION, limitRanger } from "./limit-ranger.js";

const podsRes = findResource("", "v1", "pods")!;
const pvcRes = findResource("", "v1", "persistentvolumeclaims")!;
const lrRes = findResource("", "v1", "limitranges")!;

function attrs(op: Operation, resource: ResourceType, object: KObject): AdmissionAttributes {
  return { operation: op, resource, subresource: "", namespace: "ns", name: object.metadata?.name ?? "", object, user: { username: "u", groups: [] }, dryRun: false };
}

function lister(items: KObject[]): { list(ns: string | undefined): Promise<KList> } {
  return { list: async (ns) => ({ apiVersion: "v1", kind: "List", metadata: { resourceVersion: "1" }, items: items.filter((i) => i.metadata?.namespace === ns) }) };
}

const lr = (limits: Record<string, unknown>[]): KObject => ({ apiVersion: "v1", kind: "LimitRange", metadata: { name: "limits", namespace: "ns" }, spec: { limits } });
const pod = (containers: Record<string, unknown>[]): KObject => ({ apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "ns" }, spec: { containers } });

async function run(plugin: ReturnType<typeof limitRanger>, a: AdmissionAttributes): Promise<void> {
  await plugin.admit!(a);
  await plugin.validate!(a);
}

async function rejection(p: Promise<unknown> | unknown): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof StatusError);
    assert.equal(err.code, 403);
    return err.status.message ?? "";
  }
  assert.fail("expected a rejection");
}

describe("LimitRanger", () => {
  it("defaults container requests and limits and notes them in the annotation", async () => {
    // The cache is empty: the live lookup finds the LimitRange.
    const plugin = limitRanger({ limitRanges: lister([]), live: lister([lr([{ type: "Container", default: { cpu: "500m", memory: "256Mi" }, defaultRequest: { cpu: "100m" } }])]) });
    const p = pod([{ name: "app", image: "x", resources: { limits: { memory: "128Mi" } } }, { name: "side", image: "x" }]);
    await run(plugin, attrs("CREATE", podsRes, p));
    const spec = p.spec as { containers: { resources: unknown }[] };
    assert.deepEqual(spec.containers[0]!.resources, { limits: { memory: "128Mi", cpu: "500m" }, requests: { memory: "128Mi", cpu: "100m" } });
    assert.deepEqual(spec.containers[1]!.resources, { limits: { cpu: "500m", memory: "256Mi" }, requests: { cpu: "100m", memory: "256Mi" } });
    assert.equal(
      p.metadata?.annotations?.[LIMIT_RANGER_ANNOTATION],
      "LimitRanger plugin set: cpu request for container app; cpu limit for container app; cpu, memory request for container side; cpu, memory limit for container side",
    );
  });

  it("enforces min, max and maxLimitRequestRatio with upstream's messages", async () => {
    const plugin = limitRanger({
      limitRanges: lister([lr([{ type: "Container", min: { cpu: "50m" }, max: { cpu: "1", memory: "1Gi" }, maxLimitRequestRatio: { cpu: "2" } }])]),
      live: lister([]),
    });
    // Defaults from max fill the gaps (upstream's LimitRange defaulting): this one passes.
    await run(plugin, attrs("CREATE", podsRes, pod([{ name: "ok", image: "x", resources: { requests: { cpu: "600m" } } }])));
    assert.equal(
      await rejection(run(plugin, attrs("CREATE", podsRes, pod([{ name: "big", image: "x", resources: { limits: { cpu: "2", memory: "512Mi" } } }])))),
      'pods "p" is forbidden: maximum cpu usage per Container is 1, but limit is 2',
    );
    assert.equal(
      await rejection(run(plugin, attrs("CREATE", podsRes, pod([{ name: "r", image: "x", resources: { requests: { cpu: "100m" }, limits: { cpu: "1" } } }])))),
      'pods "p" is forbidden: cpu max limit to request ratio per Container is 2, but provided ratio is 10.000000',
    );
    assert.equal(
      await rejection(run(plugin, attrs("CREATE", podsRes, pod([{ name: "small", image: "x", resources: { requests: { cpu: "10m" }, limits: { cpu: "2" } } }])))),
      'pods "p" is forbidden: [minimum cpu usage per Container is 50m, but request is 10m, maximum cpu usage per Container is 1, but limit is 2, cpu max limit to request ratio per Container is 2, but provided ratio is 200.000000]',
    );
  });

  it("checks whole pods and claims", async () => {
    const plugin = limitRanger({
      limitRanges: lister([lr([{ type: "Pod", max: { memory: "1Gi" } }, { type: "PersistentVolumeClaim", min: { storage: "1Gi" }, max: { storage: "5Gi" } }])]),
      live: lister([]),
    });
    const two = pod([
      { name: "a", image: "x", resources: { limits: { memory: "600Mi" } } },
      { name: "b", image: "x", resources: { limits: { memory: "600Mi" } } },
    ]);
    assert.equal(await rejection(run(plugin, attrs("CREATE", podsRes, two))), 'pods "p" is forbidden: maximum memory usage per Pod is 1Gi, but limit is 1200Mi');
    const pvc = (size: string): KObject => ({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "c", namespace: "ns" },
      spec: { resources: { requests: { storage: size } } },
    });
    await run(plugin, attrs("CREATE", pvcRes, pvc("2Gi")));
    assert.equal(
      await rejection(run(plugin, attrs("CREATE", pvcRes, pvc("10Gi")))),
      'persistentvolumeclaims "c" is forbidden: maximum storage usage per PersistentVolumeClaim is 5Gi, but request is 10Gi',
    );
    assert.equal(
      await rejection(run(plugin, attrs("CREATE", pvcRes, pvc("500Mi")))),
      'persistentvolumeclaims "c" is forbidden: minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi',
    );
  });

  it("defaults LimitRange items as upstream's SetDefaults_LimitRangeItem", async () => {
    const item: Record<string, unknown> = { type: "Container", max: { cpu: "2" }, min: { memory: "10Mi" } };
    defaultLimitRangeItem(item);
    assert.deepEqual(item, { type: "Container", max: { cpu: "2" }, min: { memory: "10Mi" }, default: { cpu: "2" }, defaultRequest: { cpu: "2", memory: "10Mi" } });
    const plugin = limitRanger({ limitRanges: lister([]), live: lister([]) });
    const obj = lr([{ type: "Container", max: { cpu: "1" } }]);
    await plugin.admit!(attrs("CREATE", lrRes, obj));
    assert.deepEqual((obj.spec as { limits: unknown[] }).limits[0], { type: "Container", max: { cpu: "1" }, default: { cpu: "1" }, defaultRequest: { cpu: "1" } });
  });
});
