/**
 * VolumeBindingArgs: type, defaults (SetDefaults_VolumeBindingArgs) and
 * validation (ValidateVolumeBindingArgsWithOptions, VolumeCapacityPriority
 * off), with upstream's messages.
 */
import { goNumber, invalidValue } from "../../../machinery/field-errors.js";
import { fieldErrorMessage } from "../../../machinery/status-error.js";

/** The default bindTimeoutSeconds. */
export const DefaultBindTimeoutSeconds = 600;

export interface VolumeBindingArgs {
  /** How long PreBind waits for volumes to be bound, in seconds. */
  bindTimeoutSeconds?: number;
  /** Only with the VolumeCapacityPriority feature gate, which skiff does not have: rejected. */
  shape?: unknown;
}

/** SetDefaults_VolumeBindingArgs. */
export function defaultVolumeBindingArgs(args: VolumeBindingArgs = {}): VolumeBindingArgs {
  return { ...args, bindTimeoutSeconds: args.bindTimeoutSeconds ?? DefaultBindTimeoutSeconds };
}

/** ValidateVolumeBindingArgs. */
export function validateVolumeBindingArgs(path: string, args: VolumeBindingArgs): string[] {
  const errs: string[] = [];
  const at = (f: string) => (path ? `${path}.${f}` : f);
  const t = args.bindTimeoutSeconds ?? DefaultBindTimeoutSeconds;
  if (t < 0) errs.push(fieldErrorMessage(invalidValue(at("bindTimeoutSeconds"), goNumber(t), "invalid BindTimeoutSeconds, should not be a negative value")));
  if (args.shape !== undefined && args.shape !== null) {
    errs.push(
      fieldErrorMessage(invalidValue(at("shape"), { go: JSON.stringify(args.shape) }, "unexpected field `shape`, remove it or turn on the feature gate VolumeCapacityPriority")),
    );
  }
  return errs;
}
