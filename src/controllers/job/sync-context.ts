/**
 * What one Job sync works with (upstream's `syncJobCtx`) and the
 * dependencies every part of the sync shares.
 */
import type { Job, JobCondition } from "kubernetes-types/batch/v1.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import type { ObjectReference } from "kubernetes-types/core/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import type { Clock } from "../../machinery/clock.js";
import type { Logger } from "../../machinery/log.js";
import { ownerReference } from "../common/controller-ref.js";
import type { ControllerExpectations } from "../common/expectations.js";
import type { PodControl, PodEventRecorder } from "../common/pod-control.js";
import type { JobApi } from "./api.js";
import type { BackoffRecord, BackoffStore } from "./backoff.js";
import { JOB_GVK } from "./constants.js";
import type { FinalizerExpectations } from "./finalizer-expectations.js";
import type { Interval } from "./intervals.js";

/** Timings of the Job controller (kube-controller-manager has no flags for them; upstream's constants). */
export interface JobControllerTimings {
  /** Delay before the first replacement of a failed pod, doubling per consecutive failure (10 s). */
  readonly podFailureBackoffMs: number;
  /** Longest such delay (10 min). */
  readonly maxPodFailureBackoffMs: number;
  /** Pod and status events wake a Job after this batching delay (1 s). */
  readonly syncBatchPeriodMs: number;
}

/** Everything a sync reads and writes through. */
export interface JobSyncDeps {
  /** The Job informer's cache, by `ns/name`. */
  getJob(key: string): Job | undefined;
  /** The shared pod informer, with the pod controller-uid index. */
  readonly pods: SharedInformer<Pod>;
  readonly podControl: PodControl;
  readonly api: JobApi;
  readonly recorder: PodEventRecorder;
  readonly expectations: ControllerExpectations;
  readonly finalizerExpectations: FinalizerExpectations;
  readonly backoffStore: BackoffStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly timings: JobControllerTimings;
  /** Queues `key` after `ms` exactly (activeDeadlineSeconds). */
  enqueueAfter(key: string, ms: number): void;
}

/** The state one sync builds up. */
export interface SyncJobCtx {
  /** The Job being synced: a copy of the cached one, its status edited in place. */
  job: Job;
  /** The pods the Job owns after claiming. */
  readonly pods: Pod[];
  /** Why the Job is (about to be) finished, once decided. */
  finishedCondition?: JobCondition;
  readonly activePods: Pod[];
  succeeded: number;
  failed: number;
  prevSucceededIndexes: Interval[];
  succeededIndexes: Interval[];
  failedIndexes?: Interval[];
  newBackoffRecord: BackoffRecord;
  /** Pods whose finalizer removal the informer has not shown yet. */
  readonly expectedRmFinalizers: ReadonlySet<string>;
  readonly uncounted: { readonly succeeded: ReadonlySet<string>; readonly failed: ReadonlySet<string> };
  podsWithDelayedDeletionPerIndex: Map<number, Pod>;
  terminating: number;
  ready: number;
}

/** `ns/name` of a Job. */
export function jobKey(job: Job): string {
  return `${job.metadata?.namespace ?? ""}/${job.metadata?.name ?? ""}`;
}

/** The reference events about `job` point at (list items carry no kind of their own). */
export function jobRef(job: Job): ObjectReference {
  return ownerReference(job.metadata, JOB_GVK);
}
