/**
 * The pod failure backoff, as upstream's backoff_utils.go: per Job, the
 * number of pod failures since the last success and when the last one
 * happened; a replacement pod waits `initial * 2^(failures-1)` (capped)
 * after the last failure. Indexes with backoffLimitPerIndex keep their own
 * count in the pods' failure-count annotation instead.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import { getPodReadyCondition } from "../common/pod-utils.js";
import { parseTime } from "../common/time.js";
import { indexAbsoluteFailureCount } from "./indexed.js";

/** What one Job's backoff remembers. */
export interface BackoffRecord {
  readonly key: string;
  readonly failuresAfterLastSuccess: number;
  /** Epoch ms of the last failure after the last success. */
  readonly lastFailureTime?: number;
}

/** The backoff records of every Job, by key (upstream's `backoffStore`). */
export class BackoffStore {
  private readonly records = new Map<string, BackoffRecord>();

  /** The stored record of `key`. */
  get(key: string): BackoffRecord | undefined {
    return this.records.get(key);
  }

  /** Stores a record computed by {@link newBackoffRecord} (once the status that counted its pods is written). */
  updateBackoffRecord(record: BackoffRecord): void {
    this.records.set(record.key, record);
  }

  /** Forgets a finished or deleted Job. */
  removeBackoffRecord(key: string): void {
    this.records.delete(key);
  }

  /**
   * The record after the pods that finished since the last sync: failures
   * add up until a success, which resets the count to the failures that
   * finished after it.
   */
  newBackoffRecord(key: string, newSucceededPods: readonly Pod[], newFailedPods: readonly Pod[]): BackoffRecord {
    const old = this.records.get(key);
    let failures = old?.failuresAfterLastSuccess ?? 0;
    let lastFailureTime = old?.lastFailureTime;
    const succeeded = sortByFinishedTime(newSucceededPods);
    const failed = sortByFinishedTime(newFailedPods);
    if (succeeded.length === 0) {
      if (failed.length === 0) return { key, failuresAfterLastSuccess: failures, lastFailureTime };
      return { key, failuresAfterLastSuccess: failures + failed.length, lastFailureTime: getFinishedTime(failed.at(-1)!) };
    }
    failures = 0;
    lastFailureTime = undefined;
    const lastSuccess = getFinishedTime(succeeded.at(-1)!);
    for (let i = failed.length - 1; i >= 0; i--) {
      const t = getFinishedTime(failed[i]!);
      if (!(t > lastSuccess)) break;
      lastFailureTime ??= t;
      failures++;
    }
    return { key, failuresAfterLastSuccess: failures, lastFailureTime };
  }
}

function sortByFinishedTime(pods: readonly Pod[]): Pod[] {
  return [...pods].sort((a, b) => getFinishedTime(a) - getFinishedTime(b));
}

/**
 * When a pod finished (epoch ms): the latest container finish if all
 * containers terminated, else the Ready=False transition, else the
 * deletion time less the grace period, else its creation (upstream's
 * `getFinishedTime`).
 */
export function getFinishedTime(pod: Pod): number {
  return finishTimeFromContainers(pod) ?? finishTimeFromReadyFalse(pod) ?? finishTimeFromDeletion(pod) ?? parseTime(pod.metadata?.creationTimestamp);
}

function finishTimeFromContainers(pod: Pod): number | undefined {
  let latest: number | undefined;
  for (const cs of pod.status?.containerStatuses ?? []) {
    const finishedAt = parseTime(cs.state?.terminated?.finishedAt);
    if (!cs.state?.terminated || finishedAt === 0) return undefined;
    if (latest === undefined || latest < finishedAt) latest = finishedAt;
  }
  return latest;
}

function finishTimeFromReadyFalse(pod: Pod): number | undefined {
  const c = getPodReadyCondition(pod.status);
  const t = parseTime(c?.lastTransitionTime);
  return c?.status === "False" && t !== 0 ? t : undefined;
}

function finishTimeFromDeletion(pod: Pod): number | undefined {
  const m = pod.metadata;
  if (!m?.deletionTimestamp) return undefined;
  return parseTime(m.deletionTimestamp) - (m.deletionGracePeriodSeconds ?? 0) * 1000;
}

/** The delay still due before a replacement pod may be created (0: none). */
export function getRemainingTime(record: BackoffRecord, nowMs: number, defaultMs: number, maxMs: number): number {
  return remainingTimeForFailures(nowMs, defaultMs, maxMs, record.failuresAfterLastSuccess, record.lastFailureTime);
}

/**
 * The delay still due before an index may get a replacement pod, from the
 * failure count and finish time of its last failed pod (upstream's
 * `getRemainingTimePerIndex`).
 */
export function getRemainingTimePerIndex(nowMs: number, defaultMs: number, maxMs: number, lastFailedPod: Pod | undefined): number {
  if (!lastFailedPod) return 0;
  return remainingTimeForFailures(nowMs, defaultMs, maxMs, indexAbsoluteFailureCount(lastFailedPod) + 1, getFinishedTime(lastFailedPod));
}

function remainingTimeForFailures(nowMs: number, defaultMs: number, maxMs: number, failures: number, lastFailureTime: number | undefined): number {
  if (failures === 0 || lastFailureTime === undefined) return 0;
  let backoff = defaultMs;
  for (let i = 1; i < failures; i++) {
    backoff *= 2;
    if (backoff >= maxMs) {
      backoff = maxMs;
      break;
    }
  }
  const elapsed = nowMs - lastFailureTime;
  return backoff < elapsed ? 0 : backoff - elapsed;
}
