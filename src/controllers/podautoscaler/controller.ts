/**
 * The HorizontalPodAutoscaler controller (`horizontalpodautoscaling`), as
 * upstream's pkg/controller/podautoscaler: every HPA is reconciled once
 * per sync period (`--horizontal-pod-autoscaler-sync-period`). As
 * upstream's fixed-interval rate limiter does, an HPA event never jumps
 * the queue: a key waits one sync period, and after each sync it is put
 * back to wait another, until the HPA is deleted.
 */
import type { HorizontalPodAutoscaler } from "kubernetes-types/autoscaling/v2.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import { PODS } from "../../client/resources.js";
import { objectKey } from "../../client/store.js";
import { systemTimers, type Timers } from "../../client/timers.js";
import { WorkQueue } from "../../client/work-queue.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { errorMessage } from "../common/errors.js";
import type { PodEventRecorder } from "../common/pod-control.js";
import { runController } from "../common/workers.js";
import type { Controller, ControllerContext } from "../manager.js";
import { HORIZONTAL_POD_AUTOSCALERS, type HpaApi, restHpaApi } from "./api.js";
import type { MetricsClient } from "./metrics.js";
import { Normalizer } from "./normalize.js";
import { HpaReconciler } from "./reconcile.js";
import { ReplicaCalculator } from "./replica-calculator.js";
import { restMetricsClient } from "./rest-metrics-client.js";
import { DEFAULT_DOWNSCALE_STABILIZATION_MS, DEFAULT_SYNC_PERIOD_MS, type HpaSettings } from "./settings.js";

/** The component events are reported as (upstream's). */
export const HPA_CONTROLLER_COMPONENT = "horizontal-pod-autoscaler";
/** Upstream's default `--concurrent-horizontal-pod-autoscaler-syncs`. */
export const DEFAULT_WORKERS = 5;

/** Options of a {@link HorizontalController}. */
export interface HorizontalControllerOptions extends HpaSettings {
  readonly hpaInformer: SharedInformer<HorizontalPodAutoscaler>;
  readonly podInformer: SharedInformer<Pod>;
  readonly api: HpaApi;
  readonly metrics: MetricsClient;
  readonly recorder: PodEventRecorder;
  readonly logger?: Logger;
  readonly workers?: number;
  readonly timers?: Timers;
}

/** See the module comment; {@link run} until the signal aborts. */
export class HorizontalController implements Controller {
  readonly queue: WorkQueue<string>;
  readonly reconciler: HpaReconciler;
  private readonly log: Logger;
  private readonly syncPeriodMs: number;

  constructor(private readonly opts: HorizontalControllerOptions) {
    const timers = opts.timers ?? systemTimers;
    this.log = opts.logger ?? silentLogger;
    this.syncPeriodMs = opts.syncPeriodMs ?? DEFAULT_SYNC_PERIOD_MS;
    for (const [flag, v] of [
      ["--horizontal-pod-autoscaler-sync-period", this.syncPeriodMs],
      ["--horizontal-pod-autoscaler-tolerance", opts.tolerance ?? 0],
      ["--horizontal-pod-autoscaler-downscale-stabilization", opts.downscaleStabilizationMs ?? 0],
    ] as const) {
      if (!(v >= 0) || !Number.isFinite(v)) throw new Error(`${flag} must be a non-negative number, not ${v}`);
    }
    if (!(this.syncPeriodMs > 0)) throw new Error(`--horizontal-pod-autoscaler-sync-period must be greater than 0`);
    this.queue = new WorkQueue<string>({ timers });
    const podsInNamespace = (ns: string) => opts.podInformer.byNamespace(ns);
    const calculator = new ReplicaCalculator({
      metrics: opts.metrics,
      listPods: (ns, selector) => podsInNamespace(ns).filter((p) => selector.matches(p.metadata?.labels)),
      tolerance: opts.tolerance,
      cpuInitializationPeriodMs: opts.cpuInitializationPeriodMs,
      initialReadinessDelayMs: opts.initialReadinessDelayMs,
      clock: timers,
    });
    this.reconciler = new HpaReconciler({
      api: opts.api,
      calculator,
      normalizer: new Normalizer(opts.downscaleStabilizationMs ?? DEFAULT_DOWNSCALE_STABILIZATION_MS, timers),
      recorder: opts.recorder,
      podsInNamespace,
      clock: timers,
      logger: this.log,
    });
    opts.hpaInformer.addEventHandler({
      onAdd: (hpa) => this.enqueue(hpa),
      onUpdate: (_old, cur) => this.enqueue(cur),
      onDelete: (hpa) => {
        const key = objectKey(hpa);
        this.queue.forget(key);
        this.reconciler.forget(key);
      },
    });
  }

  private enqueue(hpa: HorizontalPodAutoscaler): void {
    this.queue.addAfter(objectKey(hpa), this.syncPeriodMs);
  }

  /** Waits for the caches, then runs the workers until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    return runController(signal, {
      name: "horizontal-pod-autoscaler",
      log: this.log,
      queues: [this.queue],
      informers: [this.opts.hpaInformer, this.opts.podInformer],
      workers: this.opts.workers ?? DEFAULT_WORKERS,
      processNextWorkItem: () => this.processNextWorkItem(),
    });
  }

  /** Reconciles one key and puts it back for the next period; false once the queue is shut down. */
  async processNextWorkItem(): Promise<boolean> {
    const key = await this.queue.get();
    if (key === undefined) return false;
    try {
      const deleted = await this.reconcileKey(key);
      if (!deleted) this.queue.addAfter(key, this.syncPeriodMs);
    } finally {
      this.queue.done(key);
    }
    return true;
  }

  /** Reconciles `key`; true when the HPA no longer exists. */
  async reconcileKey(key: string): Promise<boolean> {
    const hpa = this.opts.hpaInformer.get(key);
    if (!hpa) {
      this.log.info("Horizontal Pod Autoscaler has been deleted", { HPA: key });
      this.reconciler.forget(key);
      return true;
    }
    try {
      await this.reconciler.reconcile(hpa, key);
    } catch (err) {
      this.log.error("reconciling HPA failed", { HPA: key, err: errorMessage(err) });
    }
    return false;
  }
}

/** The `horizontalpodautoscaling` controller of a controller manager. */
export function newHorizontalController(ctx: ControllerContext): HorizontalController {
  const s = ctx.settings;
  return new HorizontalController({
    syncPeriodMs: s.horizontalPodAutoscalerSyncPeriodMs,
    downscaleStabilizationMs: s.horizontalPodAutoscalerDownscaleStabilizationMs,
    tolerance: s.horizontalPodAutoscalerTolerance,
    cpuInitializationPeriodMs: s.horizontalPodAutoscalerCpuInitializationPeriodMs,
    initialReadinessDelayMs: s.horizontalPodAutoscalerInitialReadinessDelayMs,
    hpaInformer: ctx.informers.informerFor<HorizontalPodAutoscaler>(HORIZONTAL_POD_AUTOSCALERS),
    podInformer: ctx.informers.informerFor<Pod>(PODS),
    api: restHpaApi(ctx.rest),
    metrics: restMetricsClient(ctx.rest),
    recorder: ctx.recorder(HPA_CONTROLLER_COMPONENT),
    logger: ctx.logger.with({ controller: "horizontalpodautoscaling" }),
  });
}
