/**
 * PodTopologySpreadArgs: type, defaults (SetDefaults_PodTopologySpreadArgs)
 * and validation (ValidatePodTopologySpreadArgs), with upstream's messages.
 */
import type { TopologySpreadConstraint } from "kubernetes-types/core/v1.js";
import { qualifiedName } from "../../../apiserver/registry/meta-validation.js";
import { duplicate, forbidden, goNumber, goString, invalidValue, notSupported, required } from "../../../machinery/field-errors.js";
import { type FieldError, fieldErrorMessage } from "../../../machinery/status-error.js";

/** Use the system default constraints (hostname maxSkew 3, zone maxSkew 5, ScheduleAnyway). */
export const SystemDefaulting = "System";
/** Use `defaultConstraints` as listed. */
export const ListDefaulting = "List";

export interface PodTopologySpreadArgs {
  /** Constraints for pods that set none; their selectors come from the pod's Services and controller. */
  defaultConstraints?: TopologySpreadConstraint[];
  /** "System" or "List"; defaults to List when defaultConstraints are given, else System. */
  defaultingType?: string;
}

/** SetDefaults_PodTopologySpreadArgs. */
export function defaultPodTopologySpreadArgs(args: PodTopologySpreadArgs = {}): PodTopologySpreadArgs {
  const out: PodTopologySpreadArgs = { ...args };
  if (!out.defaultingType) out.defaultingType = (out.defaultConstraints?.length ?? 0) > 0 ? ListDefaulting : SystemDefaulting;
  return out;
}

function at(path: string, child: string): string {
  return path ? `${path}.${child}` : child;
}

/** ValidatePodTopologySpreadArgs. */
export function validatePodTopologySpreadArgs(path: string, args: PodTopologySpreadArgs): string[] {
  const errs: FieldError[] = [];
  const constraints = args.defaultConstraints ?? [];
  const dt = args.defaultingType ?? "";
  if (dt !== SystemDefaulting && dt !== ListDefaulting) errs.push(notSupported(at(path, "defaultingType"), goString(dt), [SystemDefaulting, ListDefaulting]));
  else if (dt === SystemDefaulting && constraints.length > 0) errs.push(invalidValue(at(path, "defaultingType"), goString(dt), "when .defaultConstraints are not empty"));
  const listPath = at(path, "defaultConstraints");
  constraints.forEach((c, i) => {
    const p = `${listPath}[${i}]`;
    if (!(c.maxSkew > 0)) errs.push(invalidValue(`${p}.maxSkew`, goNumber(c.maxSkew ?? 0), "not in valid range (0, inf)"));
    if (!c.topologyKey) errs.push(required(`${p}.topologyKey`, "can not be empty"));
    else for (const m of qualifiedName(c.topologyKey)) errs.push(invalidValue(`${p}.topologyKey`, goString(c.topologyKey), m));
    if (!c.whenUnsatisfiable) errs.push(required(`${p}.whenUnsatisfiable`, "can not be empty"));
    else if (c.whenUnsatisfiable !== "DoNotSchedule" && c.whenUnsatisfiable !== "ScheduleAnyway") {
      errs.push(notSupported(`${p}.whenUnsatisfiable`, goString(c.whenUnsatisfiable), ["DoNotSchedule", "ScheduleAnyway"]));
    }
    if (c.labelSelector) errs.push(forbidden(`${p}.labelSelector`, "constraint must not define a selector, as they deduced for each pod"));
    for (let j = 0; j < i; j++) {
      const other = constraints[j]!;
      if (other.topologyKey === c.topologyKey && other.whenUnsatisfiable === c.whenUnsatisfiable) {
        errs.push(duplicate(p, { go: `"{${c.topologyKey}, ${c.whenUnsatisfiable}}"` }));
        break;
      }
    }
  });
  return errs.map(fieldErrorMessage);
}
