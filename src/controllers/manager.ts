/**
 * The controller manager, as kube-controller-manager: one process-wide
 * client identity (`system:kube-controller-manager`), leader election on the
 * `kube-system/kube-controller-manager` Lease so that of several servers
 * exactly one runs the controllers, and each controller started while this
 * instance leads and stopped when it stops leading.
 */
import { setMaxListeners } from "node:events";
import { DEFAULT_SPAM_FILTER, EventRecorder } from "../client/event-recorder.js";
import { InformerFactory, stripManagedFields } from "../client/informer.js";
import { runWhileLeading } from "../client/run-while-leading.js";
import type { RestClient } from "../client/rest-client.js";
import { type Logger, silentLogger } from "../machinery/log.js";
import { newClusterRoleAggregationController } from "./clusterroleaggregation/controller.js";
import { newCronJobController } from "./cronjob/controller.js";
import { newDaemonSetController } from "./daemonset/controller.js";
import { newDeploymentController } from "./deployment/controller.js";
import { newDisruptionController } from "./disruption/manager-entry.js";
import { EndpointsController } from "./endpoints/controller.js";
import { EndpointSliceController } from "./endpointslice/controller.js";
import { GarbageCollector } from "./garbage-collector/garbage-collector.js";
import { newJobController } from "./job/controller.js";
import { newLocalPathProvisionerController } from "./localpath/manager-entry.js";
import { NamespaceController } from "./namespace/controller.js";
import { NodeIpamController } from "./nodeipam/controller.js";
import { newNodeLifecycleController } from "./nodelifecycle/manager-entry.js";
import { newHorizontalController } from "./podautoscaler/controller.js";
import { newPodGCController } from "./podgc/controller.js";
import { newRootCaPublisher } from "./serviceaccount/root-ca-publisher.js";
import { newServiceAccountsController } from "./serviceaccount/serviceaccounts-controller.js";
import { newTokensController } from "./serviceaccount/tokens-controller.js";
import { newReplicaSetController, newReplicationManager } from "./replicaset/controller.js";
import { newResourceQuotaController } from "./resourcequota/controller.js";
import { newStatefulSetController } from "./statefulset/controller.js";
import { newServiceLBController } from "./servicelb/controller.js";
import { newTtlAfterFinishedController } from "./ttlafterfinished/controller.js";
import { newPersistentVolumeBinderController, newPvcProtectionController, newPvProtectionController } from "./volume/manager-entry.js";

/** What every controller gets. */
export interface ControllerContext {
  readonly rest: RestClient;
  readonly logger: Logger;
  /**
   * Shared informers: ask for them while constructing (`informerFor`), the
   * manager starts them all once every controller is built; wait for their
   * sync in `run` before acting on their caches.
   */
  readonly informers: InformerFactory;
  /** An events.k8s.io recorder reporting as `component` (e.g. `replicaset-controller`). */
  recorder(component: string): EventRecorder;
  readonly settings: ControllerSettings;
}

/** Cluster-wide settings controllers read (kube-controller-manager flags). */
export interface ControllerSettings {
  /** The pod network nodes get their ranges from (`--cluster-cidr`). */
  readonly clusterCidr: string;
  /** Size of each node's pod range (`--node-cidr-mask-size`). */
  readonly nodeCidrMaskSize: number;
  /** How often node health is checked (`--node-monitor-period`; 5 s when absent). */
  readonly nodeMonitorPeriodMs?: number;
  /** Heartbeat silence after which a node is Unknown (`--node-monitor-grace-period`; 50 s when absent). */
  readonly nodeMonitorGracePeriodMs?: number;
  /** The same for a node that never posted Ready (`--node-startup-grace-period`; 60 s when absent). */
  readonly nodeStartupGracePeriodMs?: number;
  /** Nodes per second tainted NoExecute in a healthy zone (`--node-eviction-rate`; 0.1 when absent). */
  readonly nodeEvictionRate?: number;
  /** The same in a partially disrupted large zone (`--secondary-node-eviction-rate`; 0.01 when absent). */
  readonly secondaryNodeEvictionRate?: number;
  /** Zones up to this many nodes stop evicting when partially disrupted (`--large-cluster-size-threshold`; 50 when absent). */
  readonly largeClusterSizeThreshold?: number;
  /** Share of NotReady nodes making a zone partially disrupted (`--unhealthy-zone-threshold`; 0.55 when absent). */
  readonly unhealthyZoneThreshold?: number;
  /** Terminated pods kept before PodGC deletes the oldest (`--terminated-pod-gc-threshold`; 12500 when absent, 0 keeps all). */
  readonly terminatedPodGCThreshold?: number;
  /** Where local-path volumes' directories live on every node (`<data-dir>/storage`; the default data dir's when absent). */
  readonly storageDir?: string;
  /** The node sharing this process's filesystem (the server's own), where local-path directories are made and removed. */
  readonly localNodeName?: string;
  /** How often the PV controller syncs every claim and volume again (`--pvclaimbinder-sync-period`; 15 s when absent). */
  readonly pvClaimBinderSyncPeriodMs?: number;
  /** Delay before a Job replaces a failed pod, doubling per consecutive failure (upstream's DefaultJobPodFailureBackOff; 10 s when absent). */
  readonly jobPodFailureBackoffMs?: number;
  /** Longest such delay (upstream's MaxJobPodFailureBackOff; 10 min when absent). */
  readonly jobMaxPodFailureBackoffMs?: number;
  /** CA bundle published as `kube-root-ca.crt` and put in token Secrets (`--root-ca-file`; the client's own CA when absent). */
  readonly rootCaFile?: string;
  /** Key signing legacy ServiceAccount token Secrets (`--service-account-private-key-file`); without it they are not filled. */
  readonly serviceAccountPrivateKeyFile?: string;
  /** How often each HPA is reconciled (`--horizontal-pod-autoscaler-sync-period`; 15 s when absent). */
  readonly horizontalPodAutoscalerSyncPeriodMs?: number;
  /** Look-back of HPA scale-down recommendations (`--horizontal-pod-autoscaler-downscale-stabilization`; 5 min when absent). */
  readonly horizontalPodAutoscalerDownscaleStabilizationMs?: number;
  /** Usage ratio band around 1 in which the HPA changes nothing (`--horizontal-pod-autoscaler-tolerance`; 0.1 when absent). */
  readonly horizontalPodAutoscalerTolerance?: number;
  /** Time after a pod starts during which its cpu samples may be skipped (`--horizontal-pod-autoscaler-cpu-initialization-period`; 5 min when absent). */
  readonly horizontalPodAutoscalerCpuInitializationPeriodMs?: number;
  /** Time after a pod starts in which readiness changes mean "not yet ready" (`--horizontal-pod-autoscaler-initial-readiness-delay`; 30 s when absent). */
  readonly horizontalPodAutoscalerInitialReadinessDelayMs?: number;
  /** How often every ResourceQuota's usage is recomputed in full (`--resource-quota-sync-period`; 5 min when absent). */
  readonly resourceQuotaSyncPeriodMs?: number;
}

/** k3s' defaults: pods in 10.42.0.0/16, a /24 per node. */
export const DEFAULT_CONTROLLER_SETTINGS: ControllerSettings = Object.freeze({ clusterCidr: "10.42.0.0/16", nodeCidrMaskSize: 24 });

/** A controller: runs until `signal` aborts. */
export interface Controller {
  run(signal: AbortSignal): Promise<void>;
}

/** The controllers skiff runs, by upstream's names (`--controllers` in kube-controller-manager). */
export const CONTROLLERS: Readonly<Record<string, (ctx: ControllerContext) => Controller>> = {
  garbagecollector: (ctx) => new GarbageCollector({ rest: ctx.rest, logger: ctx.logger.with({ controller: "garbagecollector" }) }),
  namespace: (ctx) => new NamespaceController({ rest: ctx.rest, informers: ctx.informers, logger: ctx.logger.with({ controller: "namespace" }) }),
  endpoints: (ctx) =>
    new EndpointsController({ rest: ctx.rest, informers: ctx.informers, recorder: ctx.recorder("endpoint-controller"), logger: ctx.logger.with({ controller: "endpoints" }) }),
  endpointslice: (ctx) =>
    new EndpointSliceController({
      rest: ctx.rest,
      informers: ctx.informers,
      recorder: ctx.recorder("endpoint-slice-controller"),
      logger: ctx.logger.with({ controller: "endpointslice" }),
    }),
  replicaset: (ctx) => newReplicaSetController(ctx),
  replicationcontroller: (ctx) => newReplicationManager(ctx),
  deployment: (ctx) => newDeploymentController(ctx),
  statefulset: (ctx) => newStatefulSetController(ctx),
  daemonset: (ctx) => newDaemonSetController(ctx),
  nodeipam: (ctx) =>
    new NodeIpamController({
      rest: ctx.rest,
      informers: ctx.informers,
      clusterCidr: ctx.settings.clusterCidr,
      nodeCidrMaskSize: ctx.settings.nodeCidrMaskSize,
      recorder: ctx.recorder("node-ipam-controller"),
      logger: ctx.logger.with({ controller: "nodeipam" }),
    }),
  nodelifecycle: (ctx) => newNodeLifecycleController(ctx),
  podgc: (ctx) => newPodGCController(ctx),
  "persistentvolume-binder": (ctx) => newPersistentVolumeBinderController(ctx),
  "pvc-protection": (ctx) => newPvcProtectionController(ctx),
  "pv-protection": (ctx) => newPvProtectionController(ctx),
  "local-path-provisioner": (ctx) => newLocalPathProvisionerController(ctx),
  disruption: (ctx) => newDisruptionController(ctx),
  job: (ctx) => newJobController(ctx),
  cronjob: (ctx) => newCronJobController(ctx),
  "ttl-after-finished": (ctx) => newTtlAfterFinishedController(ctx),
  serviceaccount: (ctx) => newServiceAccountsController(ctx),
  "serviceaccount-token": (ctx) => newTokensController(ctx),
  "root-ca-cert-publisher": (ctx) => newRootCaPublisher(ctx),
  horizontalpodautoscaling: (ctx) => newHorizontalController(ctx),
  "clusterrole-aggregation": (ctx) => newClusterRoleAggregationController(ctx),
  resourcequota: (ctx) => newResourceQuotaController(ctx),
  // k3s' ServiceLB: LoadBalancer Services answer on the nodes' addresses.
  "service-lb-controller": (ctx) => newServiceLBController(ctx),
};

/** Options of a {@link ControllerManager}. */
export interface ControllerManagerOptions {
  /** A client authenticated as `system:kube-controller-manager`. */
  readonly rest: RestClient;
  readonly logger?: Logger;
  /** Cluster settings ({@link DEFAULT_CONTROLLER_SETTINGS} unless given). */
  readonly settings?: ControllerSettings;
  /** Controllers to run (all of {@link CONTROLLERS} unless given). */
  readonly controllers?: readonly string[];
  /** Lease timings (upstream defaults 15 s / 10 s / 2 s); tests shorten them. */
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  /** Leader-election identity (`<hostname>_<uuid>`, as upstream, unless given). */
  readonly identity?: string;
}

/** Runs the controllers while leading. */
export class ControllerManager {
  private readonly log: Logger;

  constructor(private readonly opts: ControllerManagerOptions) {
    this.log = opts.logger ?? silentLogger;
    for (const name of opts.controllers ?? []) {
      if (!CONTROLLERS[name]) throw new Error(`unknown controller "${name}"; known: ${Object.keys(CONTROLLERS).join(", ")}`);
    }
  }

  /** Campaigns for the `kube-system/kube-controller-manager` Lease and runs the controllers while leading, until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    await runWhileLeading(
      {
        rest: this.opts.rest,
        lease: "kube-controller-manager",
        logger: this.log,
        identity: this.opts.identity,
        leaseDurationMs: this.opts.leaseDurationMs,
        renewDeadlineMs: this.opts.renewDeadlineMs,
        retryPeriodMs: this.opts.retryPeriodMs,
      },
      signal,
      (leading) => this.runControllers(leading),
    );
  }

  private async runControllers(signal: AbortSignal): Promise<void> {
    const names = this.opts.controllers ?? Object.keys(CONTROLLERS);
    this.log.info("leading: starting controllers", { controllers: names.join(",") });
    // Every controller listens for the end of leadership on this one signal: more than Node's default 10 is expected, not a leak.
    setMaxListeners(0, signal);
    // Informers and recorders live as long as this term of leadership.
    // Cached objects without managedFields, as kube-controller-manager's informers. (Interning every string of the
    // shared informers saved about 9 MB at 10,000 pods but doubled the manager's CPU while they were created; only the
    // garbage collector's small metadata objects are interned.)
    const informers = new InformerFactory(this.opts.rest, { logger: this.log, transform: stripManagedFields });
    const recorders: EventRecorder[] = [];
    const ctx: ControllerContext = {
      rest: this.opts.rest,
      logger: this.log,
      informers,
      settings: this.opts.settings ?? DEFAULT_CONTROLLER_SETTINGS,
      recorder: (component) => {
        // kube-controller-manager's recorders go through client-go's EventCorrelator: 25 Events per object, then one per 5 minutes.
        const r = new EventRecorder({ sink: this.opts.rest, reportingController: component, logger: this.log, spamFilter: DEFAULT_SPAM_FILTER });
        recorders.push(r);
        return r;
      },
    };
    const controllers = names.map((name) => ({ name, controller: CONTROLLERS[name]!(ctx) }));
    informers.start(signal);
    signal.addEventListener("abort", () => {
      for (const r of recorders) void r.shutdown();
    });
    await Promise.all(
      controllers.map(async ({ name, controller }) => {
        try {
          await controller.run(signal);
        } catch (err) {
          if (!signal.aborted) this.log.error("controller failed", { controller: name, err: (err as Error).message });
        }
      }),
    );
  }
}
