/**
 * Time and bookkeeping of CronJobs, as upstream's pkg/controller/cronjob/utils.go:
 * the most recent schedule time not yet run (and how many were missed),
 * when to look again, the Job made for a scheduled time, and the active
 * list in status.
 */
import type { CronJob, Job } from "kubernetes-types/batch/v1.js";
import type { ObjectReference } from "kubernetes-types/core/v1.js";
import { newControllerRef } from "../common/controller-ref.js";
import { parseTime, rfc3339 } from "../common/time.js";
import { localTimeZone } from "./schedule.js";
import type { CronSchedule } from "./schedule.js";
import { CRONJOB_GVK, CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION, NEXT_SCHEDULE_DELTA_MS } from "./constants.js";

/** How many start times passed unmet. */
export type MissedSchedules = "none" | "few" | "many";

/** The CronJob's active list has a Job with this uid. */
export function inActiveList(cj: CronJob, uid: string | undefined): boolean {
  return (cj.status?.active ?? []).some((r) => r.uid === uid);
}

/** The CronJob's active list has a Job with this namespace and name. */
export function inActiveListByName(cj: CronJob, namespace: string, name: string): boolean {
  return (cj.status?.active ?? []).some((r) => r.name === name && r.namespace === namespace);
}

/** Drops the Job with this uid from the active list. */
export function deleteFromActiveList(cj: CronJob, uid: string | undefined): void {
  const status = (cj.status ??= {});
  status.active = (status.active ?? []).filter((r) => r.uid !== uid);
}

/** What {@link mostRecentScheduleTime} found. */
export interface MostRecent {
  /** lastScheduleTime, else creation (epoch ms), moved up to the starting deadline when asked. */
  readonly earliestTime: number;
  /** The latest start time in (earliest, now], if any. */
  readonly mostRecentTime?: number;
  readonly missed: MissedSchedules;
}

/**
 * Upstream's `mostRecentScheduleTime`: the latest start time at or before
 * now that came after the last one run (or the CronJob's creation), never
 * earlier than now minus startingDeadlineSeconds when
 * `includeStartingDeadlineSeconds`. Counting missed times is an estimate
 * from the interval between two schedule times, so even a schedule missed
 * for years costs little. Throws for a schedule that never fires twice a
 * second apart (like February 31st).
 */
export function mostRecentScheduleTime(cj: CronJob, nowMs: number, schedule: CronSchedule, includeStartingDeadlineSeconds: boolean): MostRecent {
  let earliestTime = parseTime(cj.metadata?.creationTimestamp);
  if (cj.status?.lastScheduleTime) earliestTime = parseTime(cj.status.lastScheduleTime);
  const sds = cj.spec?.startingDeadlineSeconds;
  if (includeStartingDeadlineSeconds && sds !== undefined && sds !== null) {
    // Nothing before this point will be scheduled.
    const schedulingDeadline = nowMs - sds * 1000;
    if (schedulingDeadline > earliestTime) earliestTime = schedulingDeadline;
  }
  const t1 = schedule.next(earliestTime);
  const t2 = t1 === undefined ? undefined : schedule.next(t1);
  if (t1 !== undefined && nowMs < t1) return { earliestTime, missed: "none" };
  if (t1 !== undefined && t2 !== undefined && nowMs < t2) return { earliestTime, mostRecentTime: t1, missed: "none" };
  const between = t1 === undefined || t2 === undefined ? 0 : Math.round((t2 - t1) / 1000);
  if (between < 1) throw new Error("time difference between two schedules is less than 1 second");
  const elapsed = Math.trunc((nowMs - t1!) / 1000);
  const missedCount = Math.trunc(elapsed / between) + 1;
  // Jump close to now by whole intervals, then let the schedule find the exact last time
  // (one interval back, for schedules whose intervals vary, like 30 6-16/4 * * 1-5).
  const potentialEarliest = t1! + (missedCount - 2) * between * 1000;
  let mostRecent: number | undefined;
  for (let t = schedule.next(potentialEarliest); t !== undefined && t <= nowMs; t = schedule.next(t)) mostRecent = t;
  const missed: MissedSchedules = missedCount > 100 ? "many" : missedCount > 0 ? "few" : "none";
  return { earliestTime, mostRecentTime: mostRecent, missed };
}

/**
 * How long until the next schedule time, plus 100 ms against clock skew
 * (upstream's `nextScheduleTimeDuration`).
 */
export function nextScheduleTimeDuration(cj: CronJob, nowMs: number, schedule: CronSchedule): number {
  let from: number;
  try {
    const r = mostRecentScheduleTime(cj, nowMs, schedule, false);
    // No time missed since the last one: count from it; several missed: from now.
    from = r.mostRecentTime ?? (r.missed === "none" ? r.earliestTime : nowMs);
  } catch {
    // Still look again some time: from the next slot after now.
    from = nowMs;
  }
  const next = schedule.next(from);
  // A schedule that never fires again: look again in a day, in case the spec changes meanwhile.
  if (next === undefined) return 24 * 3600_000;
  return next + NEXT_SCHEDULE_DELTA_MS - nowMs;
}

/** The unmet start time to act on now, if any; `many` missed also means a warning (upstream's `nextScheduleTime`). */
export function nextScheduleTime(cj: CronJob, nowMs: number, schedule: CronSchedule): { time?: number; missed: MissedSchedules } {
  const r = mostRecentScheduleTime(cj, nowMs, schedule, true);
  if (r.mostRecentTime === undefined || r.mostRecentTime > nowMs) return { missed: r.missed };
  return { time: r.mostRecentTime, missed: r.missed };
}

/** `<cronjob>-<minutes since the epoch>`: the same scheduled time always names the same Job. */
export function getJobName(cj: CronJob, scheduledMs: number): string {
  return `${cj.metadata?.name ?? ""}-${Math.floor(scheduledMs / 60_000)}`;
}

/**
 * The Job a CronJob runs at `scheduledMs` (upstream's `getJobFromTemplate2`):
 * the template's labels and annotations, the scheduled time as an RFC 3339
 * annotation in the CronJob's time zone, a controllerRef to the CronJob.
 */
export function getJobFromTemplate(cj: CronJob, scheduledMs: number): Job {
  const tpl = cj.spec?.jobTemplate;
  const zone = cj.spec?.timeZone;
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: getJobName(cj, scheduledMs),
      labels: { ...(tpl?.metadata?.labels ?? {}) },
      annotations: { ...(tpl?.metadata?.annotations ?? {}), [CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION]: formatRFC3339In(scheduledMs, zone ?? "UTC") },
      ownerReferences: [newControllerRef(cj.metadata, CRONJOB_GVK)],
    },
    spec: structuredClone(tpl?.spec ?? ({} as Job["spec"]))!,
  };
}

/** Go's `t.In(zone).Format(time.RFC3339)`: local wall time with its offset, `Z` for a zero offset. */
export function formatRFC3339In(ms: number, zone: string): string {
  const tz = zone === "" ? "UTC" : zone === "Local" ? localTimeZone() : zone;
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: tz,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    timeZoneName: "longOffset",
  }).formatToParts(new Date(ms));
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
  const offset = get("timeZoneName").replace(/^GMT/, "");
  const suffix = offset === "" || offset === "+00:00" || offset === "-00:00" ? "Z" : offset;
  return `${get("year")}-${get("month")}-${get("day")}T${get("hour")}:${get("minute")}:${get("second")}${suffix}`;
}

/** Oldest first by status.startTime (Jobs never started last), then by name (upstream's `byJobStartTime`). */
export function byJobStartTime(jobs: readonly Job[]): Job[] {
  return [...jobs].sort((a, b) => {
    const sa = a.status?.startTime;
    const sb = b.status?.startTime;
    if (!sa && sb) return 1;
    if (sa && !sb) return -1;
    const ta = parseTime(sa);
    const tb = parseTime(sb);
    if (ta === tb) return (a.metadata?.name ?? "") < (b.metadata?.name ?? "") ? -1 : (a.metadata?.name ?? "") > (b.metadata?.name ?? "") ? 1 : 0;
    return ta - tb;
  });
}

/** The reference a CronJob's active list holds for `job` (client-go's `reference.GetReference`). */
export function jobReference(job: Job): ObjectReference {
  const m = job.metadata ?? {};
  return {
    kind: "Job",
    namespace: m.namespace,
    name: m.name,
    uid: m.uid,
    apiVersion: "batch/v1",
    ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}),
  };
}

/** `metav1.Time` of an epoch-ms instant. */
export function metaTime(ms: number): string {
  return rfc3339(ms);
}
