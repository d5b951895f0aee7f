/**
 * Names the CronJob controller shares with the API and its users.
 */
import type { GroupVersionKind } from "../common/controller-ref.js";

/** batch/v1 CronJob, for controllerRefs and events. */
export const CRONJOB_GVK: GroupVersionKind = { apiVersion: "batch/v1", kind: "CronJob" };

/** The component its events are reported as. */
export const CRONJOB_CONTROLLER_COMPONENT = "cronjob-controller";

/** Annotation on each Job with the time it was scheduled for (RFC 3339, in the CronJob's time zone). */
export const CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/** Upstream's `nextScheduleDelta`: wake a little after the schedule time, against clock skew. */
export const NEXT_SCHEDULE_DELTA_MS = 100;

/** Concurrency policies. */
export const ALLOW_CONCURRENT = "Allow";
export const FORBID_CONCURRENT = "Forbid";
export const REPLACE_CONCURRENT = "Replace";
