/**
 * DefaultPreemptionArgs: type, defaults (SetDefaults_DefaultPreemptionArgs)
 * and validation (ValidateDefaultPreemptionArgs), with upstream's messages.
 */
import { goNumber, invalidValue } from "../../../machinery/field-errors.js";
import { type FieldError, fieldErrorMessage } from "../../../machinery/status-error.js";

export interface DefaultPreemptionArgs {
  /** The share of nodes (0–100) to dry-run preemption on, at least minCandidateNodesAbsolute. */
  minCandidateNodesPercentage?: number;
  /** The least number of nodes to dry-run preemption on. */
  minCandidateNodesAbsolute?: number;
}

/** SetDefaults_DefaultPreemptionArgs: 10% and 100 nodes. */
export function defaultDefaultPreemptionArgs(args: DefaultPreemptionArgs = {}): Required<DefaultPreemptionArgs> {
  return {
    minCandidateNodesPercentage: args.minCandidateNodesPercentage ?? 10,
    minCandidateNodesAbsolute: args.minCandidateNodesAbsolute ?? 100,
  };
}

/** ValidateDefaultPreemptionArgs. */
export function validateDefaultPreemptionArgs(path: string, args: DefaultPreemptionArgs): string[] {
  const a = defaultDefaultPreemptionArgs(args);
  const errs: FieldError[] = [];
  const percentagePath = path ? `${path}.minCandidateNodesPercentage` : "minCandidateNodesPercentage";
  const absolutePath = path ? `${path}.minCandidateNodesAbsolute` : "minCandidateNodesAbsolute";
  if (a.minCandidateNodesPercentage < 0 || a.minCandidateNodesPercentage > 100) {
    errs.push(invalidValue(percentagePath, goNumber(a.minCandidateNodesPercentage), "not in valid range [0, 100]"));
  }
  if (a.minCandidateNodesAbsolute < 0) errs.push(invalidValue(absolutePath, goNumber(a.minCandidateNodesAbsolute), "not in valid range [0, inf)"));
  if (a.minCandidateNodesPercentage === 0 && a.minCandidateNodesAbsolute === 0) {
    errs.push(
      invalidValue(percentagePath, goNumber(0), "cannot be zero at the same time as minCandidateNodesAbsolute"),
      invalidValue(absolutePath, goNumber(0), "cannot be zero at the same time as minCandidateNodesPercentage"),
    );
  }
  return errs.map(fieldErrorMessage);
}
