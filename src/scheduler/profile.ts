/**
 * Profiles (pkg/scheduler/profile): one Framework per scheduling profile of
 * a loaded configuration, keyed by scheduler name, sharing one snapshot,
 * one set of permit-waiting pods and the configuration's global settings.
 */
import type { KubeSchedulerConfiguration } from "./config/types.js";
import { Framework, type FrameworkOptions } from "./framework/framework.js";
import type { Registry } from "./framework/registry.js";
import { Snapshot } from "./framework/snapshot.js";
import { WaitingPodsMap } from "./framework/waiting-pods.js";

export type ProfilesResult = { ok: true; frameworks: Map<string, Framework> } | { ok: false; error: string };

/** NewMap: the frameworks of a defaulted, validated configuration. */
export function buildProfiles(
  config: KubeSchedulerConfiguration,
  registry: Registry,
  opts: Omit<FrameworkOptions, "percentageOfNodesToScore"> = {},
): ProfilesResult {
  const frameworks = new Map<string, Framework>();
  const shared: FrameworkOptions = {
    ...opts,
    snapshot: opts.snapshot ?? new Snapshot(),
    waitingPods: opts.waitingPods ?? new WaitingPodsMap(),
    percentageOfNodesToScore: config.percentageOfNodesToScore ?? 0,
  };
  for (const profile of config.profiles ?? []) {
    const name = profile.schedulerName ?? "";
    if (frameworks.has(name)) return { ok: false, error: `duplicate profile with scheduler name ${JSON.stringify(name)}` };
    const built = Framework.create(registry, profile, shared);
    if (!built.ok) return { ok: false, error: `creating profile for scheduler name ${name}: ${built.error}` };
    frameworks.set(name, built.framework);
  }
  return { ok: true, frameworks };
}
