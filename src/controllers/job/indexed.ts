/**
 * Indexed Jobs, as upstream's indexed_job_utils.go: each pod carries its
 * completion index (annotation and label `batch.kubernetes.io/job-completion-index`,
 * hostname `<job>-<index>`, env `JOB_COMPLETION_INDEX`); the Job tracks
 * which indexes succeeded (`status.completedIndexes`) and, with
 * backoffLimitPerIndex, which failed (`status.failedIndexes`).
 */
import type { Job } from "kubernetes-types/batch/v1.js";
import type { Container, Pod, PodTemplateSpec } from "kubernetes-types/core/v1.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { sortActivePods } from "../common/active-pods.js";
import {
  COMPLETION_INDEX_ENV_NAME,
  INDEXED_COMPLETION,
  JOB_COMPLETION_INDEX_ANNOTATION,
  JOB_INDEX_FAILURE_COUNT_ANNOTATION,
  JOB_INDEX_IGNORED_FAILURE_COUNT_ANNOTATION,
  MAX_GENERATED_NAME_LENGTH,
  ACTION_FAIL_INDEX,
} from "./constants.js";
import { hasIndex, type Interval, type OrderedIntervals, merge, parseIndexesFromString, withOrderedIndexes } from "./intervals.js";
import { matchPodFailurePolicy } from "./pod-failure-policy.js";
import { hasJobTrackingFinalizer, isPodFailed, isTerminating, onlyReplaceFailedPods } from "./pods.js";

/** A pod without a (valid) completion index. */
export const UNKNOWN_COMPLETION_INDEX = -1;

/** `spec.completionMode: Indexed`. */
export function isIndexedJob(job: Job): boolean {
  return job.spec?.completionMode === INDEXED_COMPLETION;
}

/** `spec.backoffLimitPerIndex` is set. */
export function hasBackoffLimitPerIndex(job: Job): boolean {
  return job.spec?.backoffLimitPerIndex !== undefined && job.spec.backoffLimitPerIndex !== null;
}

/** The pod's completion index, or {@link UNKNOWN_COMPLETION_INDEX}. */
export function getCompletionIndex(annotations: Readonly<Record<string, string>> | undefined): number {
  const v = annotations?.[JOB_COMPLETION_INDEX_ANNOTATION];
  if (v === undefined || !/^[+-]?\d+$/.test(v)) return UNKNOWN_COMPLETION_INDEX;
  const i = Number(v);
  return i < 0 ? UNKNOWN_COMPLETION_INDEX : i;
}

/** Pods sorted by completion index (a copy). */
export function byCompletionIndex(pods: readonly Pod[]): Pod[] {
  return [...pods].sort((a, b) => getCompletionIndex(a.metadata?.annotations) - getCompletionIndex(b.metadata?.annotations));
}

/** The indexes the pods hold (unknown ones left out). */
export function getIndexes(pods: readonly Pod[]): Set<number> {
  const out = new Set<number>();
  for (const p of pods) {
    const ix = getCompletionIndex(p.metadata?.annotations);
    if (ix !== UNKNOWN_COMPLETION_INDEX) out.add(ix);
  }
  return out;
}

const sortedNumbers = (s: Set<number>) => [...s].sort((a, b) => a - b);

/**
 * The succeeded indexes before this sync (`status.completedIndexes`) and
 * after it (plus succeeded pods still carrying the finalizer).
 */
export function calculateSucceededIndexes(job: Job, pods: readonly Pod[], logger: Logger = silentLogger): [prev: Interval[], current: Interval[]] {
  const completions = job.spec?.completions ?? 0;
  const prev = parseIndexesFromString(job.status?.completedIndexes, completions, logger);
  const newSucceeded = new Set<number>();
  for (const p of pods) {
    const ix = getCompletionIndex(p.metadata?.annotations);
    if (p.status?.phase === "Succeeded" && ix !== UNKNOWN_COMPLETION_INDEX && ix < completions && hasJobTrackingFinalizer(p)) newSucceeded.add(ix);
  }
  return [prev, withOrderedIndexes(prev, sortedNumbers(newSucceeded))];
}

/** The failed indexes: `status.failedIndexes` plus the indexes that failed for good since. */
export function calculateFailedIndexes(job: Job, pods: readonly Pod[], logger: Logger = silentLogger): Interval[] {
  const completions = job.spec?.completions ?? 0;
  const prev = parseIndexesFromString(job.status?.failedIndexes ?? "", completions, logger);
  const newFailed = new Set<number>();
  for (const p of pods) {
    const ix = getCompletionIndex(p.metadata?.annotations);
    if (ix !== UNKNOWN_COMPLETION_INDEX && ix < completions && hasJobTrackingFinalizer(p) && isIndexFailed(job, p)) newFailed.add(ix);
  }
  return withOrderedIndexes(prev, sortedNumbers(newFailed));
}

/** A failed pod fails its index: FailIndex matched, or its counted failures reached backoffLimitPerIndex. */
function isIndexFailed(job: Job, pod: Pod): boolean {
  let counted = false;
  if (isPodFailed(pod, job)) {
    if (job.spec?.podFailurePolicy) {
      const m = matchPodFailurePolicy(job.spec.podFailurePolicy, pod);
      if (m.action === ACTION_FAIL_INDEX) return true;
      counted = m.countFailed;
    } else {
      counted = true;
    }
  }
  return counted && indexFailureCount(pod) >= (job.spec?.backoffLimitPerIndex ?? 0);
}

/** What {@link firstPendingIndexes} looks at. */
export interface PendingIndexesInput {
  readonly job: Job;
  readonly pods: readonly Pod[];
  readonly activePods: readonly Pod[];
  readonly succeededIndexes: OrderedIntervals;
  readonly failedIndexes?: OrderedIntervals;
}

/**
 * Up to `count` indexes below `completions` held by no active pod and
 * neither succeeded nor failed (nor, when only failed pods are replaced,
 * held by a terminating pod); upstream's `firstPendingIndexes`.
 */
export function firstPendingIndexes(ctx: PendingIndexesInput, count: number, completions: number): number[] {
  if (count === 0) return [];
  const result: number[] = [];
  let nonPending = withOrderedIndexes(ctx.succeededIndexes, sortedNumbers(getIndexes(ctx.activePods)));
  if (onlyReplaceFailedPods(ctx.job)) nonPending = withOrderedIndexes(nonPending, sortedNumbers(getIndexes(ctx.pods.filter(isTerminating))));
  if (ctx.failedIndexes) nonPending = merge(nonPending, ctx.failedIndexes);
  let candidate = 0;
  for (const iv of nonPending) {
    for (; candidate < completions && result.length < count && candidate < iv.first; candidate++) result.push(candidate);
    if (candidate < iv.last + 1) candidate = iv.last + 1;
  }
  for (; candidate < completions && result.length < count; candidate++) result.push(candidate);
  return result;
}

/**
 * Splits active pods of an Indexed Job: every pod without a valid index,
 * and all but one of each repeated index, go to `rm`; the rest to `left`
 * (upstream's `appendDuplicatedIndexPodsForRemoval`).
 */
export function splitDuplicatedIndexPods(pods: readonly Pod[], completions: number): { rm: Pod[]; left: Pod[] } {
  const rm: Pod[] = [];
  const left: Pod[] = [];
  const sorted = byCompletionIndex(pods);
  const flush = (group: Pod[], ix: number) => {
    if (group.length === 0) return;
    if (ix === UNKNOWN_COMPLETION_INDEX) {
      rm.push(...group);
      return;
    }
    if (group.length === 1) {
      left.push(group[0]!);
      return;
    }
    // Keep the pod furthest along; remove the others.
    sortActivePods(group);
    rm.push(...group.slice(0, -1));
    left.push(group.at(-1)!);
  };
  let lastIndex = UNKNOWN_COMPLETION_INDEX;
  let group: Pod[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const p = sorted[i]!;
    const ix = getCompletionIndex(p.metadata?.annotations);
    if (ix >= completions) {
      flush(group, lastIndex);
      group = [];
      rm.push(...sorted.slice(i));
      return { rm, left };
    }
    if (ix !== lastIndex) {
      flush(group, lastIndex);
      group = [];
      lastIndex = ix;
    }
    group.push(p);
  }
  flush(group, lastIndex);
  return { rm, left };
}

/** What {@link getPodsWithDelayedDeletionPerIndex} looks at. */
export interface DelayedDeletionInput {
  readonly job: Job;
  readonly pods: readonly Pod[];
  readonly activePods: readonly Pod[];
  readonly succeededIndexes: OrderedIntervals;
  readonly failedIndexes?: OrderedIntervals;
  readonly expectedRmFinalizers: ReadonlySet<string>;
}

/**
 * For each index still to be retried, its last failed pod: its finalizer
 * stays until the replacement exists, so the replacement can carry on the
 * index's failure count (upstream's `getPodsWithDelayedDeletionPerIndex`).
 */
export function getPodsWithDelayedDeletionPerIndex(ctx: DelayedDeletionInput, finishedTime: (p: Pod) => number): Map<number, Pod> {
  const activeIndexes = getIndexes(ctx.activePods);
  const completions = ctx.job.spec?.completions ?? 0;
  const out = new Map<number, Pod>();
  for (const p of ctx.pods) {
    const uid = p.metadata?.uid ?? "";
    // As upstream's getValidPodsWithFilter (with no uncounted set): tracked pods with a valid index.
    if (!hasJobTrackingFinalizer(p) || ctx.expectedRmFinalizers.has(uid)) continue;
    const ix = getCompletionIndex(p.metadata?.annotations);
    if (ix === UNKNOWN_COMPLETION_INDEX || ix >= completions) continue;
    if (!isPodFailed(p, ctx.job)) continue;
    if (hasIndex(ctx.succeededIndexes, ix) || hasIndex(ctx.failedIndexes, ix) || activeIndexes.has(ix)) continue;
    const last = out.get(ix);
    if (!last || (indexAbsoluteFailureCount(last) <= indexAbsoluteFailureCount(p) && !(finishedTime(p) < finishedTime(last)))) out.set(ix, p);
  }
  return out;
}

function parseCount(pod: Pod, annotation: string): number {
  const v = pod.metadata?.annotations?.[annotation];
  if (v === undefined || !/^[+-]?\d+$/.test(v)) return 0;
  const n = Number(v);
  return n < 0 || n > 2 ** 31 - 1 ? 0 : n;
}

/** The failures counted against the pod's index so far (0 when the annotation is missing or invalid). */
export function indexFailureCount(pod: Pod): number {
  return parseCount(pod, JOB_INDEX_FAILURE_COUNT_ANNOTATION);
}

/** Counted plus ignored failures of the pod's index. */
export function indexAbsoluteFailureCount(pod: Pod): number {
  return parseCount(pod, JOB_INDEX_FAILURE_COUNT_ANNOTATION) + parseCount(pod, JOB_INDEX_IGNORED_FAILURE_COUNT_ANNOTATION);
}

/** The failure counts a replacement of `podBeingReplaced` starts with: its own plus its failure. */
export function getNewIndexFailureCounts(job: Job, podBeingReplaced: Pod | undefined): [counted: number, ignored: number] {
  if (!podBeingReplaced) return [0, 0];
  let counted = parseCount(podBeingReplaced, JOB_INDEX_FAILURE_COUNT_ANNOTATION);
  let ignored = parseCount(podBeingReplaced, JOB_INDEX_IGNORED_FAILURE_COUNT_ANNOTATION);
  if (job.spec?.podFailurePolicy) {
    if (matchPodFailurePolicy(job.spec.podFailurePolicy, podBeingReplaced).countFailed) counted++;
    else ignored++;
  } else {
    counted++;
  }
  return [counted, ignored];
}

/** Sets the failure-count annotations of a replacement pod's template. */
export function addIndexFailureCountAnnotation(template: PodTemplateSpec, job: Job, podBeingReplaced: Pod | undefined): void {
  const [counted, ignored] = getNewIndexFailureCounts(job, podBeingReplaced);
  const meta = (template.metadata ??= {});
  meta.annotations ??= {};
  meta.annotations[JOB_INDEX_FAILURE_COUNT_ANNOTATION] = String(counted);
  if (ignored > 0) meta.annotations[JOB_INDEX_IGNORED_FAILURE_COUNT_ANNOTATION] = String(ignored);
}

/** Adds `JOB_COMPLETION_INDEX` (from the pod's index label) to every container that lacks it. */
export function addCompletionIndexEnvVariables(template: PodTemplateSpec): void {
  const spec = template.spec;
  if (!spec) return;
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) addCompletionIndexEnvVariable(c);
}

function addCompletionIndexEnvVariable(c: Container): void {
  if (c.env?.some((e) => e.name === COMPLETION_INDEX_ENV_NAME)) return;
  c.env = [...(c.env ?? []), { name: COMPLETION_INDEX_ENV_NAME, valueFrom: { fieldRef: { fieldPath: `metadata.labels['${JOB_COMPLETION_INDEX_ANNOTATION}']` } } }];
}

/** Sets the completion-index annotation and label of a pod template. */
export function addCompletionIndex(template: PodTemplateSpec, index: number): void {
  const meta = (template.metadata ??= {});
  meta.annotations = { ...(meta.annotations ?? {}), [JOB_COMPLETION_INDEX_ANNOTATION]: String(index) };
  meta.labels = { ...(meta.labels ?? {}), [JOB_COMPLETION_INDEX_ANNOTATION]: String(index) };
}

/** `<job>-<index>-`, the job name cut so the whole fits a generated name (upstream's `podGenerateNameWithIndex`). */
export function podGenerateNameWithIndex(jobName: string, index: number): string {
  const suffix = `-${index}-`;
  const prefix = jobName + suffix;
  return prefix.length > MAX_GENERATED_NAME_LENGTH ? prefix.slice(0, MAX_GENERATED_NAME_LENGTH - suffix.length) + suffix : prefix;
}
