/**
 * An Indexed Job's `successPolicy`, as upstream's success_policy.go: the
 * Job meets its success criteria once the succeeded indexes satisfy any
 * rule (all of `succeededIndexes`, or `succeededCount` of them, or
 * `succeededCount` in total).
 */
import type { Job, JobCondition, SuccessPolicy } from "kubernetes-types/batch/v1.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { JOB_SUCCESS_CRITERIA_MET } from "./constants.js";
import { type OrderedIntervals, parseIndexesFromString, total } from "./intervals.js";

/** The condition message when rule `index` matched, or undefined when none did (upstream's `matchSuccessPolicy`). */
export function matchSuccessPolicy(
  policy: SuccessPolicy | undefined,
  completions: number,
  succeededIndexes: OrderedIntervals,
  logger: Logger = silentLogger,
): string | undefined {
  if (!policy || succeededIndexes.length === 0) return undefined;
  for (const [index, rule] of (policy.rules ?? []).entries()) {
    if (rule.succeededIndexes !== undefined) {
      const required = parseIndexesFromString(rule.succeededIndexes, completions, logger);
      // An unparsable rule matches nothing.
      if (required.length === 0) continue;
      if (matchSucceededIndexesRule(required, succeededIndexes, rule.succeededCount)) return `Matched rules at index ${index}`;
    } else if (rule.succeededCount !== undefined && total(succeededIndexes) >= rule.succeededCount) {
      return `Matched rules at index ${index}`;
    }
  }
  return undefined;
}

function matchSucceededIndexesRule(rule: OrderedIntervals, succeeded: OrderedIntervals, succeededCount: number | undefined): boolean {
  let contains = 0;
  let s = 0;
  let r = 0;
  while (r < rule.length && s < succeeded.length) {
    const overlap = Math.min(rule[r]!.last, succeeded[s]!.last) - Math.max(rule[r]!.first, succeeded[s]!.first) + 1;
    if (overlap > 0) contains += overlap;
    if (succeeded[s]!.last < rule[r]!.last) s++;
    else if (succeeded[s]!.last > rule[r]!.last) r++;
    else {
      s++;
      r++;
    }
  }
  return contains === total(rule) || (succeededCount !== undefined && contains >= succeededCount);
}

/** The Job's True SuccessCriteriaMet condition, if it has one. */
export function hasSuccessCriteriaMetCondition(job: Job): JobCondition | undefined {
  return job.status?.conditions?.find((c) => c.type === JOB_SUCCESS_CRITERIA_MET && c.status === "True");
}

/** `cond` is a True SuccessCriteriaMet condition. */
export function isSuccessCriteriaMetCondition(cond: JobCondition | undefined): boolean {
  return cond?.type === JOB_SUCCESS_CRITERIA_MET && cond.status === "True";
}
