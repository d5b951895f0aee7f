/**
 * Matching a failed pod against a Job's `podFailurePolicy`, as upstream's
 * pod_failure_policy.go: the first rule whose exit codes (or pod
 * conditions) match decides whether the Job fails at once (FailJob), the
 * pod's index fails (FailIndex), the failure is not counted (Ignore) or
 * counted as usual (Count).
 */
import type { PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyOnPodConditionsPattern } from "kubernetes-types/batch/v1.js";
import type { ContainerStatus, Pod, PodCondition, PodStatus } from "kubernetes-types/core/v1.js";
import { ACTION_COUNT, ACTION_FAIL_INDEX, ACTION_FAIL_JOB, ACTION_IGNORE } from "./constants.js";

/** The outcome of matching one failed pod. */
export interface PodFailurePolicyMatch {
  /** The Job's failure message, when a FailJob rule matched. */
  readonly jobFailureMessage?: string;
  /** Whether the failure counts toward backoffLimit (and backoffLimitPerIndex): false for Ignore. */
  readonly countFailed: boolean;
  /** The action of the matching rule, if one matched. */
  readonly action?: string;
}

const NO_MATCH: PodFailurePolicyMatch = { countFailed: true };

/** Upstream's `matchPodFailurePolicy`. */
export function matchPodFailurePolicy(policy: PodFailurePolicy | undefined, failedPod: Pod): PodFailurePolicyMatch {
  if (!policy) return NO_MATCH;
  const ns = failedPod.metadata?.namespace ?? "";
  const name = failedPod.metadata?.name ?? "";
  const status = failedPod.status ?? {};
  for (const [index, rule] of (policy.rules ?? []).entries()) {
    if (rule.onExitCodes) {
      const cs = matchOnExitCodes(status, rule.onExitCodes);
      if (!cs) continue;
      const msg = `Container ${cs.name} for pod ${ns}/${name} failed with exit code ${cs.state?.terminated?.exitCode} matching ${rule.action} rule at index ${index}`;
      const decided = decide(rule.action, msg);
      if (decided) return decided;
    } else if (rule.onPodConditions) {
      const cond = matchOnPodConditions(status, rule.onPodConditions);
      if (!cond) continue;
      const msg = `Pod ${ns}/${name} has condition ${cond.type} matching ${rule.action} rule at index ${index}`;
      const decided = decide(rule.action, msg);
      if (decided) return decided;
    }
  }
  return NO_MATCH;
}

/** The match for a rule's action; undefined for an action this version does not know (the next rule decides). */
function decide(action: string, failJobMessage: string): PodFailurePolicyMatch | undefined {
  switch (action) {
    case ACTION_IGNORE:
      return { countFailed: false, action };
    case ACTION_FAIL_INDEX:
      return { countFailed: true, action };
    case ACTION_COUNT:
      return { countFailed: true, action };
    case ACTION_FAIL_JOB:
      return { jobFailureMessage: failJobMessage, countFailed: true, action };
    default:
      return undefined;
  }
}

/** A terminated container (regular first, then init) whose non-zero exit code matches. */
function matchOnExitCodes(status: PodStatus, req: PodFailurePolicyOnExitCodesRequirement): ContainerStatus | undefined {
  return matchingContainer(status.containerStatuses, req) ?? matchingContainer(status.initContainerStatuses, req);
}

function matchingContainer(statuses: readonly ContainerStatus[] | undefined, req: PodFailurePolicyOnExitCodesRequirement): ContainerStatus | undefined {
  for (const cs of statuses ?? []) {
    const terminated = cs.state?.terminated;
    // Still running or terminating: there is no exit code to match yet.
    if (!terminated) continue;
    if (req.containerName !== undefined && req.containerName !== cs.name) continue;
    if (terminated.exitCode !== 0 && exitCodeMatches(terminated.exitCode, req)) return cs;
  }
  return undefined;
}

function exitCodeMatches(code: number, req: PodFailurePolicyOnExitCodesRequirement): boolean {
  switch (req.operator) {
    case "In":
      return req.values.includes(code);
    case "NotIn":
      return !req.values.includes(code);
    default:
      return false;
  }
}

function matchOnPodConditions(status: PodStatus, patterns: readonly PodFailurePolicyOnPodConditionsPattern[]): PodCondition | undefined {
  for (const c of status.conditions ?? []) {
    for (const p of patterns) if (c.type === p.type && c.status === p.status) return c;
  }
  return undefined;
}
