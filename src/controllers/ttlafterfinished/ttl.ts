/**
 * When a finished Job's `ttlSecondsAfterFinished` runs out, as upstream's
 * ttlafterfinished controller computes it: from the time its Complete or
 * Failed condition turned True.
 */
import type { Job } from "kubernetes-types/batch/v1.js";
import { parseTime } from "../common/time.js";
import { finishedCondition, isJobFinished } from "../job/util.js";

/** The Job finished and has a TTL (upstream's `needsCleanup`). */
export function needsCleanup(job: Job): boolean {
  const ttl = job.spec?.ttlSecondsAfterFinished;
  return ttl !== undefined && ttl !== null && isJobFinished(job);
}

/** When the Job finished (epoch ms); throws when that cannot be told, as upstream's `jobFinishTime`. */
export function jobFinishTime(job: Job): number {
  const c = finishedCondition(job);
  const name = `${job.metadata?.namespace ?? ""}/${job.metadata?.name ?? ""}`;
  if (!c) throw new Error(`unable to find the status of the finished Job ${name}`);
  const t = parseTime(c.lastTransitionTime);
  if (t === 0) throw new Error(`unable to find the time when the Job ${name} finished`);
  return t;
}

/** What {@link timeLeft} found. */
export interface TimeLeft {
  /** Milliseconds until the TTL runs out (0 or less: expired). */
  readonly remainingMs: number;
  /** The Job finished after `nowMs`: clocks disagree, so cleanup is deferred. */
  readonly finishedInFuture: boolean;
}

/** Time left before the Job may be deleted (upstream's `timeLeft`); throws for a Job that needs no cleanup. */
export function timeLeft(job: Job, nowMs: number): TimeLeft {
  if (!needsCleanup(job)) throw new Error(`job ${job.metadata?.namespace ?? ""}/${job.metadata?.name ?? ""} should not be cleaned up`);
  const finishAt = jobFinishTime(job);
  const expireAt = finishAt + (job.spec!.ttlSecondsAfterFinished ?? 0) * 1000;
  return { remainingMs: expireAt - nowMs, finishedInFuture: finishAt > nowMs };
}
