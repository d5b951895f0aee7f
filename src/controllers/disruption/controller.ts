/**
 * The `disruption` controller (pkg/controller/disruption): keeps every
 * PodDisruptionBudget's status current, which the eviction subresource
 * reads (and decrements) before it deletes a pod. Budget changes queue the
 * budget; pod changes queue the budgets selecting the pod (old and new
 * labels); a budget with evicted pods still waiting to go is looked at
 * again when the oldest's 2-minute allowance ends. Syncs read the caches;
 * failures requeue with backoff.
 */
import type { Deployment, ReplicaSet, StatefulSet } from "kubernetes-types/apps/v1.js";
import type { Pod, ReplicationController } from "kubernetes-types/core/v1.js";
import type { PodDisruptionBudget } from "kubernetes-types/policy/v1.js";
import type { EventRecorder } from "../../client/event-recorder.js";
import type { InformerFactory, SharedInformer } from "../../client/informer.js";
import { ResourceClient } from "../../client/resource-client.js";
import { DEPLOYMENTS, POD_DISRUPTION_BUDGETS, PODS, REPLICA_SETS, REPLICATION_CONTROLLERS, STATEFUL_SETS } from "../../client/resources.js";
import type { RestClient } from "../../client/rest-client.js";
import { objectKey } from "../../client/store.js";
import { systemTimers, type Timers } from "../../client/timers.js";
import { WorkQueue } from "../../client/work-queue.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { isConflict } from "../../machinery/status-error.js";
import { errorMessage } from "../common/errors.js";
import { processNextWorkItem } from "../common/workers.js";
import { type PodControllerFinder, podControllerFinders } from "./finders.js";
import { budgetsForPod, type DisruptionSyncDeps, DisruptionSyncer } from "./sync.js";

/** Options of a {@link DisruptionController}. */
export interface DisruptionControllerOptions {
  readonly rest: RestClient;
  readonly informers: InformerFactory;
  /** Events as `controllermanager` (upstream's disruption controller source). */
  readonly recorder?: EventRecorder;
  readonly logger?: Logger;
  readonly timers?: Timers;
  /** PUT of a budget's status (tests); REST unless given. */
  readonly updateStatus?: (pdb: PodDisruptionBudget) => Promise<PodDisruptionBudget>;
  /** Controller finders (tests); the informer-backed ones plus the scale subresource unless given. */
  readonly finders?: readonly PodControllerFinder[];
}

export class DisruptionController {
  private readonly queue: WorkQueue<string>;
  private readonly pdbs: SharedInformer<PodDisruptionBudget>;
  private readonly pods: SharedInformer<Pod>;
  private readonly waitFor: SharedInformer<{ metadata?: object }>[];
  private readonly syncer: DisruptionSyncer;
  private readonly event: DisruptionSyncDeps["event"];
  private readonly log: Logger;

  constructor(opts: DisruptionControllerOptions) {
    this.log = opts.logger ?? silentLogger;
    const timers = opts.timers ?? systemTimers;
    this.queue = new WorkQueue<string>({ timers });
    this.pdbs = opts.informers.informerFor<PodDisruptionBudget>(POD_DISRUPTION_BUDGETS);
    this.pods = opts.informers.informerFor<Pod>(PODS);
    const listers = {
      replicationControllers: opts.informers.informerFor<ReplicationController>(REPLICATION_CONTROLLERS),
      replicaSets: opts.informers.informerFor<ReplicaSet>(REPLICA_SETS),
      deployments: opts.informers.informerFor<Deployment>(DEPLOYMENTS),
      statefulSets: opts.informers.informerFor<StatefulSet>(STATEFUL_SETS),
    };
    this.waitFor = [this.pdbs, this.pods, ...Object.values(listers)];
    const client = new ResourceClient<PodDisruptionBudget>(opts.rest, POD_DISRUPTION_BUDGETS);
    const recorder = opts.recorder;
    this.event = (regarding, type, reason, note) => recorder?.event(regarding, undefined, type, reason, reason, note);
    this.syncer = new DisruptionSyncer({
      podsIn: (ns) => this.pods.byNamespace(ns),
      finders: opts.finders ?? podControllerFinders(listers, opts.rest),
      updateStatus: opts.updateStatus ?? ((pdb) => client.updateStatus(pdb)),
      event: this.event,
      now: () => timers.now(),
      logger: this.log,
    });

    const enqueue = (pdb: PodDisruptionBudget) => this.queue.add(objectKey(pdb));
    this.pdbs.addEventHandler({ onAdd: enqueue, onUpdate: (_o, pdb) => enqueue(pdb), onDelete: enqueue });
    this.pods.addEventHandler({
      onAdd: (pod) => this.enqueueBudgetsOf(pod),
      onUpdate: (old, pod) => {
        this.enqueueBudgetsOf(pod);
        // Labels may have moved the pod out of a budget, which must count it no more.
        this.enqueueBudgetsOf(old, false);
      },
      onDelete: (pod) => this.enqueueBudgetsOf(pod),
    });
  }

  /** getPdbForPod: queues the budgets selecting the pod; several is a misconfiguration worth an event. */
  private enqueueBudgetsOf(pod: Pod, warn = true): void {
    const budgets = budgetsForPod(pod, this.pdbs.byNamespace(pod.metadata?.namespace ?? ""));
    if (budgets.length === 0) return;
    if (warn && budgets.length > 1) {
      const msg = `Pod ${JSON.stringify(pod.metadata?.namespace ?? "")}/${JSON.stringify(pod.metadata?.name ?? "")} matches multiple PodDisruptionBudgets.  Chose ${JSON.stringify(budgets[0]!.metadata?.name ?? "")} arbitrarily.`;
      this.log.info(msg);
      const m = pod.metadata ?? {};
      this.event({ apiVersion: "v1", kind: "Pod", namespace: m.namespace, name: m.name, uid: m.uid }, "Warning", "MultiplePodDisruptionBudgets", msg);
    }
    for (const pdb of budgets) this.queue.add(objectKey(pdb));
  }

  async run(signal: AbortSignal): Promise<void> {
    const stop = () => this.queue.shutDown();
    signal.addEventListener("abort", stop, { once: true });
    try {
      const synced = await Promise.all(this.waitFor.map((i) => i.waitForSync(signal)));
      if (!synced.every(Boolean)) return;
      this.log.info("starting disruption controller");
      await Promise.all([this.worker(), this.worker()]);
    } finally {
      signal.removeEventListener("abort", stop);
      this.queue.shutDown();
    }
  }

  private async worker(): Promise<void> {
    while (
      await processNextWorkItem(
        this.queue,
        (key) => this.sync(key),
        (key, err) => {
          if (!isConflict(err)) this.log.info("error syncing PodDisruptionBudget, requeuing", { podDisruptionBudget: key, err: errorMessage(err) });
          this.queue.addRateLimited(key);
        },
      )
    ) {
      // each turn handles one budget
    }
  }

  /** sync: one budget's status; a recheck is queued for its next disrupted-pod deadline. */
  async sync(key: string): Promise<void> {
    const pdb = this.pdbs.get(key);
    if (!pdb) return;
    const r = await this.syncer.sync(pdb);
    if (r.recheckAfterMs !== undefined) this.queue.addAfter(key, r.recheckAfterMs);
  }
}
