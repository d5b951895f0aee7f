import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Scale } from "kubernetes-types/autoscaling/v1.js";
import type { HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition, MetricSpec } from "kubernetes-types/autoscaling/v2.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import { format } from "node:util";
import type { ResourceDescriptor } from "../../client/resource-client.js";
import { FakeClock } from "../../machinery/clock.js";
import type { HpaApi } from "./api.js";
import { fakeMetricsClient, metricsOf, NOW, type PodFixture, pod } from "./fixtures.js";
import type { PodMetricsInfo } from "./metrics.js";
import { Normalizer } from "./normalize.js";
import { HpaReconciler } from "./reconcile.js";
import { ReplicaCalculator } from "./replica-calculator.js";

const DEPLOYMENTS: ResourceDescriptor = { group: "apps", version: "v1", resource: "deployments", kind: "Deployment", namespaced: true };

interface Recorded {
  type: string;
  reason: string;
  note: string;
}

class Harness {
  readonly clock = new FakeClock(NOW);
  readonly events: Recorded[] = [];
  readonly statuses: HorizontalPodAutoscaler[] = [];
  readonly scaleWrites: number[] = [];
  scale: Scale | undefined;
  pods: Pod[];
  metrics: PodMetricsInfo | Error;
  readonly reconciler: HpaReconciler;

  constructor(opts: { replicas: number; selector?: string; pods: PodFixture[]; metrics: Record<string, number> | Error }) {
    this.scale = {
      metadata: { name: "web", namespace: "default", resourceVersion: "1" },
      spec: { replicas: opts.replicas },
      status: { replicas: opts.replicas, selector: opts.selector ?? "app=web" },
    };
    this.pods = opts.pods.map(pod);
    this.metrics = opts.metrics instanceof Error ? opts.metrics : metricsOf(opts.metrics);
    const api: HpaApi = {
      resourcesFor: async (group, kind) => {
        if (group === "apps" && kind === "Deployment") return [DEPLOYMENTS];
        throw new Error(`no matches for kind "${kind}" in group "${group}"`);
      },
      getScale: async (_r, _ns, name) => {
        if (!this.scale || name !== this.scale.metadata?.name) throw new Error(`deployments.apps "${name}" not found`);
        return structuredClone(this.scale);
      },
      updateScale: async (_r, _ns, s) => {
        this.scaleWrites.push(s.spec?.replicas ?? 0);
        this.scale = structuredClone(s);
        return s;
      },
      updateStatus: async (hpa) => {
        this.statuses.push(structuredClone(hpa));
        return hpa;
      },
    };
    const listPods = (ns: string) => this.pods.filter((p) => p.metadata?.namespace === ns);
    this.reconciler = new HpaReconciler({
      api,
      calculator: new ReplicaCalculator({
        metrics: fakeMetricsClient(() => this.metrics),
        listPods: (ns, sel) => listPods(ns).filter((p) => sel.matches(p.metadata?.labels)),
        clock: this.clock,
      }),
      normalizer: new Normalizer(300_000, this.clock),
      recorder: {
        eventf: (_regarding, _related, type, reason, _action, note, ...args) => this.events.push({ type, reason, note: format(note, ...args) }),
      },
      podsInNamespace: listPods,
      clock: this.clock,
    });
  }

  get status() {
    return this.statuses.at(-1)?.status;
  }

  condition(type: string): Pick<HorizontalPodAutoscalerCondition, "status" | "reason" | "message"> | undefined {
    const c = this.status?.conditions?.find((x) => x.type === type);
    return c && { status: c.status, reason: c.reason, message: c.message };
  }
}

function hpa(metrics: MetricSpec[] | undefined, extra: Partial<HorizontalPodAutoscaler["spec"]> = {}): HorizontalPodAutoscaler {
  return {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: { name: "web", namespace: "default", uid: "u1", resourceVersion: "5" },
    spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" }, minReplicas: 1, maxReplicas: 3, ...(metrics ? { metrics } : {}), ...extra },
  };
}

const CPU_50: MetricSpec = { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 50 } } };

describe("HPA reconcile (upstream's TestScaleUp / TestScaleDown / condition tests)", () => {
  it("scales a busy deployment up to maxReplicas through /scale, with upstream's status, conditions and event", async () => {
    const h = new Harness({ replicas: 1, pods: [{ name: "web-1", request: "100m" }], metrics: { "web-1": 200 } });
    await h.reconciler.reconcile(hpa([CPU_50]), "default/web");
    assert.deepEqual(h.scaleWrites, [3]);
    assert.deepEqual(h.events, [{ type: "Normal", reason: "SuccessfulRescale", note: "New size: 3; reason: cpu resource utilization (percentage of request) above target" }]);
    const st = h.status!;
    assert.equal(st.currentReplicas, 1);
    assert.equal(st.desiredReplicas, 3);
    assert.ok(st.lastScaleTime);
    assert.deepEqual(st.currentMetrics, [{ type: "Resource", resource: { name: "cpu", current: { averageUtilization: 200, averageValue: "200m" } } }]);
    assert.deepEqual(h.condition("AbleToScale"), { status: "True", reason: "SucceededRescale", message: "the HPA controller was able to update the target scale to 3" });
    assert.deepEqual(h.condition("ScalingActive"), {
      status: "True",
      reason: "ValidMetricFound",
      message: "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)",
    });
    assert.deepEqual(h.condition("ScalingLimited"), { status: "True", reason: "TooManyReplicas", message: "the desired replica count is more than the maximum replica count" });
  });

  it("an unchanged sync writes nothing", async () => {
    const h = new Harness({ replicas: 2, pods: [{ name: "a", request: "100m" }, { name: "b", request: "100m" }], metrics: { a: 50, b: 52 } });
    const obj = hpa([CPU_50]);
    await h.reconciler.reconcile(obj, "default/web");
    assert.equal(h.statuses.length, 1);
    assert.deepEqual(h.scaleWrites, []);
    assert.deepEqual(h.condition("AbleToScale"), { status: "True", reason: "ReadyForNewScale", message: "recommended size matches current size" });
    const stored = { ...obj, status: h.status };
    h.clock.advance(15_000);
    await h.reconciler.reconcile(stored, "default/web");
    assert.equal(h.statuses.length, 1);
  });

  it("a scale-down waits out the stabilization window, then reports All metrics below target", async () => {
    const h = new Harness({ replicas: 3, pods: [{ name: "a", request: "100m" }, { name: "b", request: "100m" }, { name: "c", request: "100m" }], metrics: { a: 5, b: 5, c: 5 } });
    await h.reconciler.reconcile(hpa([CPU_50]), "default/web");
    assert.deepEqual(h.scaleWrites, []);
    assert.equal(h.condition("AbleToScale")?.reason, "ScaleDownStabilized");
    h.clock.advance(301_000);
    await h.reconciler.reconcile(hpa([CPU_50]), "default/web");
    assert.deepEqual(h.scaleWrites, [1]);
    assert.deepEqual(h.events.at(-1), { type: "Normal", reason: "SuccessfulRescale", note: "New size: 1; reason: All metrics below target" });
  });

  it("below minReplicas scales up without looking at metrics", async () => {
    const h = new Harness({ replicas: 1, pods: [], metrics: new Error("unused") });
    await h.reconciler.reconcile(hpa([CPU_50], { minReplicas: 2 }), "default/web");
    assert.deepEqual(h.scaleWrites, [2]);
    assert.equal(h.events[0]?.note, "New size: 2; reason: Current number of replicas below Spec.MinReplicas");
  });

  it("a target at zero replicas disables scaling", async () => {
    const h = new Harness({ replicas: 0, pods: [], metrics: {} });
    await h.reconciler.reconcile(hpa([CPU_50]), "default/web");
    assert.deepEqual(h.scaleWrites, []);
    assert.deepEqual(h.condition("ScalingActive"), { status: "False", reason: "ScalingDisabled", message: "scaling is disabled since the replica count of the target is zero" });
    assert.equal(h.status?.desiredReplicas, 0);
  });

  it("a missing target: AbleToScale False, FailedGetScale", async () => {
    const h = new Harness({ replicas: 1, pods: [], metrics: {} });
    h.scale = undefined;
    await assert.rejects(h.reconciler.reconcile(hpa([CPU_50]), "default/web"), { message: 'failed to query scale subresource for Deployment/default/web: deployments.apps "web" not found' });
    assert.deepEqual(h.condition("AbleToScale"), {
      status: "False",
      reason: "FailedGetScale",
      message: 'the HPA controller was unable to get the target\'s current scale: deployments.apps "web" not found',
    });
    assert.deepEqual(h.events, [{ type: "Warning", reason: "FailedGetScale", note: 'deployments.apps "web" not found' }]);
  });

  it("an unknown kind: FailedGetScale with the RESTMapper's message", async () => {
    const h = new Harness({ replicas: 1, pods: [], metrics: {} });
    const obj = hpa([CPU_50]);
    obj.spec!.scaleTargetRef = { apiVersion: "example.com/v1", kind: "Widget", name: "w" };
    await assert.rejects(h.reconciler.reconcile(obj, "default/web"), { message: 'unable to determine resource for scale target reference: no matches for kind "Widget" in group "example.com"' });
  });

  it("no metrics yet: ScalingActive False, FailedGetResourceMetric, and FailedComputeMetricsReplicas", async () => {
    const h = new Harness({ replicas: 1, pods: [{ name: "a", request: "100m" }], metrics: {} });
    await assert.rejects(h.reconciler.reconcile(hpa([CPU_50]), "default/web"));
    assert.deepEqual(h.condition("ScalingActive"), {
      status: "False",
      reason: "FailedGetResourceMetric",
      message: "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API",
    });
    assert.deepEqual(
      h.events.map((e) => [e.reason, e.note]),
      [
        ["FailedGetResourceMetric", "failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API"],
        [
          "FailedComputeMetricsReplicas",
          "invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API",
        ],
      ],
    );
    assert.deepEqual(h.status?.currentMetrics, [{ type: "" }]);
  });

  it("Pods, Object and External metrics without their APIs: upstream's conditions, never a crash", async () => {
    const cases: { spec: MetricSpec; reason: string; message: string }[] = [
      {
        spec: { type: "Pods", pods: { metric: { name: "packets-per-second" }, target: { type: "AverageValue", averageValue: "1k" } } },
        reason: "FailedGetPodsMetric",
        message:
          "the HPA was unable to compute the replica count: unable to get metric packets-per-second: unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered",
      },
      {
        spec: {
          type: "Object",
          object: { describedObject: { apiVersion: "networking.k8s.io/v1", kind: "Ingress", name: "main-route" }, metric: { name: "requests-per-second" }, target: { type: "Value", value: "10k" } },
        },
        reason: "FailedGetObjectMetric",
        message:
          "the HPA was unable to compute the replica count: unable to get metric requests-per-second: Ingress on default main-route/unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered",
      },
      {
        spec: {
          type: "External",
          external: { metric: { name: "queue_messages_ready", selector: { matchLabels: { queue: "worker_tasks" } } }, target: { type: "AverageValue", averageValue: "30" } },
        },
        reason: "FailedGetExternalMetric",
        message:
          "the HPA was unable to compute the replica count: unable to get external metric default/queue_messages_ready/&LabelSelector{MatchLabels:map[string]string{queue: worker_tasks,},MatchExpressions:[]LabelSelectorRequirement{},}: unable to fetch metrics from external metrics API: the server could not find the requested resource (get queue_messages_ready.external.metrics.k8s.io)",
      },
    ];
    for (const c of cases) {
      const h = new Harness({ replicas: 1, pods: [{ name: "a", request: "100m" }], metrics: { a: 50 } });
      await assert.rejects(h.reconciler.reconcile(hpa([c.spec]), "default/web"), /failed to compute desired number of replicas based on listed metrics for Deployment\/default\/web: invalid metrics \(1 invalid out of 1\)/);
      assert.deepEqual(h.condition("ScalingActive"), { status: "False", reason: c.reason, message: c.message });
      assert.equal(h.events[0]?.reason, c.reason);
    }
  });

  it("a failing metric next to a working one still allows a scale-up", async () => {
    const h = new Harness({ replicas: 1, pods: [{ name: "a", request: "100m" }], metrics: { a: 200 } });
    const pods: MetricSpec = { type: "Pods", pods: { metric: { name: "qps" }, target: { type: "AverageValue", averageValue: "1" } } };
    await assert.rejects(h.reconciler.reconcile(hpa([pods, CPU_50]), "default/web"), /invalid metrics \(1 invalid out of 2\)/);
    assert.deepEqual(h.scaleWrites, [3]);
    assert.equal(h.condition("ScalingActive")?.reason, "ValidMetricFound");
  });

  it("the same pods under two HPAs: AmbiguousSelector", async () => {
    const h = new Harness({ replicas: 1, pods: [{ name: "a", request: "100m" }], metrics: { a: 50 } });
    await h.reconciler.reconcile(hpa([CPU_50]), "default/web");
    const other = hpa([CPU_50]);
    other.metadata = { ...other.metadata, name: "web2", uid: "u2" };
    await assert.rejects(h.reconciler.reconcile(other, "default/web2"));
    assert.deepEqual(h.condition("ScalingActive"), {
      status: "False",
      reason: "AmbiguousSelector",
      message: "pods by selector app=web are controlled by multiple HPAs: [default/web default/web2]",
    });
  });

  it("a scale without a selector: InvalidSelector", async () => {
    const h = new Harness({ replicas: 1, selector: "", pods: [], metrics: {} });
    await assert.rejects(h.reconciler.reconcile(hpa([CPU_50]), "default/web"));
    assert.deepEqual(h.condition("ScalingActive"), { status: "False", reason: "InvalidSelector", message: "the HPA target's scale is missing a selector" });
    assert.equal(h.events[0]?.reason, "SelectorRequired");
  });

  it("memory AverageValue: status carries the average as a quantity", async () => {
    const h = new Harness({ replicas: 2, pods: [{ name: "a", request: "64Mi", resource: "memory" }, { name: "b", request: "64Mi", resource: "memory" }], metrics: { a: 100 * 1048576 * 1000, b: 100 * 1048576 * 1000 } });
    const mem: MetricSpec = { type: "Resource", resource: { name: "memory", target: { type: "AverageValue", averageValue: "50Mi" } } };
    await h.reconciler.reconcile(hpa([mem], { maxReplicas: 10 }), "default/web");
    assert.deepEqual(h.scaleWrites, [4]);
    assert.deepEqual(h.status?.currentMetrics, [{ type: "Resource", resource: { name: "memory", current: { averageValue: "104857600" } } }]);
    assert.equal(h.events[0]?.note, "New size: 4; reason: memory resource above target");
  });

  it("no metrics given: defaults to 80 % cpu", async () => {
    const h = new Harness({ replicas: 1, pods: [{ name: "a", request: "100m" }], metrics: { a: 170 } });
    await h.reconciler.reconcile(hpa(undefined, { maxReplicas: 5 }), "default/web");
    assert.deepEqual(h.scaleWrites, [3]);
  });
});
