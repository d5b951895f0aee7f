/** Jobs and CronJobs (upstream printJob, printCronJob, as of v1.30). */
import type { CronJob, Job, JobCondition } from "kubernetes-types/batch/v1.js";
import { AGE, CONTAINERS, col, IMAGES, NAME } from "./columns.js";
import { DOC } from "./descriptions.js";
import { boolPtr, containerCells, formatLabelSelector, humanDuration, parseTime, since } from "./format.js";
import type { PrintContext, PrintedRow, Printer } from "./types.js";

/** hasJobCondition: the first condition of the type decides. */
function hasJobCondition(conditions: readonly JobCondition[], type: string): boolean {
  const c = conditions.find((x) => x.type === type);
  return c !== undefined && c.status === "True";
}

/** The STATUS cell that v1.30 added: Complete, Failed, Terminating, Suspended, FailureTarget or Running. */
export function jobStatus(job: Job): string {
  const conditions = job.status?.conditions ?? [];
  if (hasJobCondition(conditions, "Complete")) return "Complete";
  if (hasJobCondition(conditions, "Failed")) return "Failed";
  if (job.metadata?.deletionTimestamp) return "Terminating";
  if (hasJobCondition(conditions, "Suspended")) return "Suspended";
  if (hasJobCondition(conditions, "FailureTarget")) return "FailureTarget";
  return "Running";
}

export const jobPrinter: Printer = {
  columns: [
    NAME,
    col("Status", "string", "Status of the job."),
    col("Completions", "string", DOC.jobSucceeded),
    col("Duration", "string", "Time required to complete the job."),
    AGE,
    CONTAINERS,
    IMAGES,
    col("Selector", "string", DOC.jobSelector, true),
  ],
  print(obj: object, ctx: PrintContext): PrintedRow {
    const job = obj as Job;
    const succeeded = job.status?.succeeded ?? 0;
    let completions: string;
    if (job.spec?.completions !== undefined && job.spec.completions !== null) {
      completions = `${succeeded}/${job.spec.completions}`;
    } else {
      const parallelism = job.spec?.parallelism ?? 0;
      completions = parallelism > 1 ? `${succeeded}/1 of ${parallelism}` : `${succeeded}/1`;
    }
    const start = parseTime(job.status?.startTime);
    const done = parseTime(job.status?.completionTime);
    let duration = "";
    if (start !== undefined) duration = humanDuration((done ?? ctx.now.getTime()) - start);
    const [names, images] = containerCells(job.spec?.template?.spec?.containers);
    return {
      cells: [
        job.metadata?.name ?? "",
        jobStatus(job),
        completions,
        duration,
        since(job.metadata?.creationTimestamp, ctx.now),
        names,
        images,
        formatLabelSelector(job.spec?.selector),
      ],
    };
  },
};

export const cronJobPrinter: Printer = {
  columns: [
    NAME,
    col("Schedule", "string", DOC.cronSchedule),
    col("Timezone", "string", DOC.cronTimeZone),
    col("Suspend", "boolean", DOC.cronSuspend),
    col("Active", "integer", DOC.cronActive),
    col("Last Schedule", "string", DOC.cronLastSchedule),
    AGE,
    CONTAINERS,
    IMAGES,
    col("Selector", "string", DOC.jobSelector, true),
  ],
  print(obj: object, ctx: PrintContext): PrintedRow {
    const cj = obj as CronJob;
    const last = cj.status?.lastScheduleTime ? since(cj.status.lastScheduleTime, ctx.now) : "<none>";
    const jobSpec = cj.spec?.jobTemplate?.spec;
    const [names, images] = containerCells(jobSpec?.template?.spec?.containers);
    return {
      cells: [
        cj.metadata?.name ?? "",
        cj.spec?.schedule ?? "",
        cj.spec?.timeZone ?? "<none>",
        // spec.suspend defaults to false on create.
        boolPtr(cj.spec?.suspend ?? false),
        (cj.status?.active ?? []).length,
        last,
        since(cj.metadata?.creationTimestamp, ctx.now),
        names,
        images,
        formatLabelSelector(jobSpec?.selector),
      ],
    };
  },
};
