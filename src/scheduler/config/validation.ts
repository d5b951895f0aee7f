/**
 * Validation of a defaulted KubeSchedulerConfiguration
 * (apis/config/validation/validation.go, v1.30), with upstream's messages.
 */
import { duplicate, forbidden, goNumber, goString, invalidValue, required } from "../../machinery/field-errors.js";
import { fieldErrorMessage } from "../../machinery/status-error.js";
import type { Registry } from "../framework/registry.js";
import type { KubeSchedulerConfiguration, KubeSchedulerProfile } from "./types.js";

function validatePercentage(path: string, v: number | undefined): string[] {
  if (v !== undefined && (v < 0 || v > 100)) return [fieldErrorMessage(invalidValue(path, goNumber(v), "not in valid range [0-100]"))];
  return [];
}

function validatePluginConfig(path: string, profile: KubeSchedulerProfile, registry: Registry): string[] {
  const errs: string[] = [];
  const seen = new Set<string>();
  (profile.pluginConfig ?? []).forEach((pc, i) => {
    const p = `${path}.pluginConfig[${i}]`;
    if (seen.has(pc.name)) errs.push(fieldErrorMessage(duplicate(p, goString(pc.name))));
    else seen.add(pc.name);
    const validate = registry.get(pc.name)?.validateArgs;
    if (validate) errs.push(...validate(`${p}.args`, pc.args ?? {}));
  });
  return errs;
}

function validateProfile(path: string, profile: KubeSchedulerProfile, registry: Registry): string[] {
  const errs: string[] = [];
  if (!profile.schedulerName) errs.push(fieldErrorMessage(required(`${path}.schedulerName`)));
  errs.push(...validatePercentage(`${path}.percentageOfNodesToScore`, profile.percentageOfNodesToScore));
  errs.push(...validatePluginConfig(path, profile, registry));
  return errs;
}

function sameJSON(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** validateCommonQueueSort: one queue sort, the same (with the same args) in every profile. */
function validateCommonQueueSort(path: string, profiles: readonly KubeSchedulerProfile[]): string[] {
  const errs: string[] = [];
  const canon = profiles[0]!.plugins?.queueSort ?? {};
  const queueSortName = canon.enabled?.[0]?.name ?? "";
  const length = canon.enabled?.length ?? 0;
  if (length > 1) errs.push(fieldErrorMessage(invalidValue(`${path}[0].plugins.queueSort.Enabled`, goNumber(length), "only one queue sort plugin can be enabled")));
  const queueSortArgs = profiles[0]!.pluginConfig?.find((c) => queueSortName !== "" && c.name === queueSortName)?.args;
  for (let i = 1; i < profiles.length; i++) {
    const curr = profiles[i]!.plugins?.queueSort ?? {};
    if (!sameJSON(canon, curr)) errs.push(`${path}[${i}].plugins.queueSort: Invalid value: ${JSON.stringify(curr)}: must be the same for all profiles`);
    for (const c of profiles[i]!.pluginConfig ?? []) {
      if (c.name === queueSortName && !sameJSON(queueSortArgs, c.args)) {
        errs.push(`${path}[${i}].pluginConfig.args: Invalid value: ${JSON.stringify(c.args ?? null)}: must be the same for all profiles`);
      }
    }
  }
  return errs;
}

/** ValidateKubeSchedulerConfiguration: every problem, each "<field>: <detail>". */
export function validateSchedulerConfig(cfg: KubeSchedulerConfiguration, registry: Registry): string[] {
  const errs: string[] = [];
  if ((cfg.parallelism ?? 0) <= 0) errs.push(fieldErrorMessage(invalidValue("parallelism", goNumber(cfg.parallelism ?? 0), "should be an integer value greater than zero")));
  const profiles = cfg.profiles ?? [];
  if (profiles.length === 0) {
    errs.push(fieldErrorMessage(required("profiles")));
  } else {
    const names = new Set<string>();
    profiles.forEach((p, i) => {
      const path = `profiles[${i}]`;
      errs.push(...validateProfile(path, p, registry));
      if (p.schedulerName) {
        if (names.has(p.schedulerName)) errs.push(fieldErrorMessage(duplicate(`${path}.schedulerName`, goString(p.schedulerName))));
        names.add(p.schedulerName);
      }
    });
    errs.push(...validateCommonQueueSort("profiles", profiles));
  }
  errs.push(...validatePercentage("percentageOfNodesToScore", cfg.percentageOfNodesToScore));
  const initial = cfg.podInitialBackoffSeconds ?? 0;
  const max = cfg.podMaxBackoffSeconds ?? 0;
  if (initial <= 0) errs.push(fieldErrorMessage(invalidValue("podInitialBackoffSeconds", goNumber(initial), "must be greater than 0")));
  if (max < initial) errs.push(fieldErrorMessage(invalidValue("podMaxBackoffSeconds", goNumber(max), "must be greater than or equal to PodInitialBackoffSeconds")));
  // skiff has no extender client: refuse rather than ignore.
  if ((cfg.extenders?.length ?? 0) > 0) errs.push(fieldErrorMessage(forbidden("extenders", "scheduler extenders are not supported by skiff")));
  return errs;
}

/** utilerrors.NewAggregate(...).Error(): one message, or "[a, b]". */
export function aggregateErrors(errs: readonly string[]): string {
  return errs.length === 1 ? errs[0]! : `[${errs.join(", ")}]`;
}
