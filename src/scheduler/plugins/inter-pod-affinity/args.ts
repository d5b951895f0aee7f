/**
 * InterPodAffinityArgs: type, defaults (SetDefaults_InterPodAffinityArgs)
 * and validation (ValidateInterPodAffinityArgs), with upstream's messages.
 */
import { goNumber, invalidValue } from "../../../machinery/field-errors.js";
import { fieldErrorMessage } from "../../../machinery/status-error.js";

/** The default weight of an existing pod's required affinity term that the incoming pod matches. */
export const DefaultHardPodAffinityWeight = 1;
export const MinHardPodAffinityWeight = 0;
export const MaxHardPodAffinityWeight = 100;

export interface InterPodAffinityArgs {
  /** Score weight of existing pods' required affinity terms matching the incoming pod, in [0, 100]. */
  hardPodAffinityWeight?: number;
  /** Skip scoring existing pods' preferred terms when the incoming pod has no preferred (anti-)affinity. */
  ignorePreferredTermsOfExistingPods?: boolean;
}

/** SetDefaults_InterPodAffinityArgs. */
export function defaultInterPodAffinityArgs(args: InterPodAffinityArgs = {}): Required<InterPodAffinityArgs> {
  return {
    hardPodAffinityWeight: args.hardPodAffinityWeight ?? DefaultHardPodAffinityWeight,
    ignorePreferredTermsOfExistingPods: args.ignorePreferredTermsOfExistingPods ?? false,
  };
}

/** ValidateInterPodAffinityArgs: "<path>.hardPodAffinityWeight: Invalid value: …". */
export function validateInterPodAffinityArgs(path: string, args: InterPodAffinityArgs): string[] {
  const w = args.hardPodAffinityWeight ?? DefaultHardPodAffinityWeight;
  if (w < MinHardPodAffinityWeight || w > MaxHardPodAffinityWeight) {
    const field = path ? `${path}.hardPodAffinityWeight` : "hardPodAffinityWeight";
    return [fieldErrorMessage(invalidValue(field, goNumber(w), `not in valid range [${MinHardPodAffinityWeight}-${MaxHardPodAffinityWeight}]`))];
  }
  return [];
}
