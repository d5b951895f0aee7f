/**
 * Predicates on Jobs other controllers share (upstream's
 * pkg/controller/job/util): whether a Job finished, and how.
 */
import type { Job, JobCondition } from "kubernetes-types/batch/v1.js";
import { JOB_COMPLETE, JOB_FAILED } from "./constants.js";

/** The Complete or Failed condition that is True, if the Job has one (upstream's `FinishedCondition`). */
export function finishedCondition(job: Job): JobCondition | undefined {
  return job.status?.conditions?.find((c) => (c.type === JOB_COMPLETE || c.type === JOB_FAILED) && c.status === "True");
}

/** The Job has a True Complete or Failed condition (upstream's `IsJobFinished`). */
export function isJobFinished(job: Job): boolean {
  return finishedCondition(job) !== undefined;
}

/** The Job has a True Complete condition (upstream's `IsJobSucceeded`). */
export function isJobSucceeded(job: Job): boolean {
  return job.status?.conditions?.some((c) => c.type === JOB_COMPLETE && c.status === "True") ?? false;
}
