/**
 * Defaulting of KubeSchedulerConfiguration v1 (apis/config/v1/defaults.go and
 * default_plugins.go, v1.30): the default plugin set, merging a profile's
 * plugins into it, and default args for every plugin that takes args.
 */
import type { Registry } from "../framework/registry.js";
import { Names } from "../plugins/names.js";
import {
  DefaultSchedulerName,
  EXTENSION_POINTS,
  type KubeSchedulerConfiguration,
  type KubeSchedulerProfile,
  type PluginConfig,
  type PluginRef,
  type PluginSet,
  type Plugins,
  SchedulerConfigAPIVersion,
  SchedulerConfigKind,
} from "./types.js";

export const DefaultParallelism = 16;
/** 0: the adaptive percentage. */
export const DefaultPercentageOfNodesToScore = 0;
export const DefaultPodInitialBackoffSeconds = 1;
export const DefaultPodMaxBackoffSeconds = 10;

/** getDefaultPlugins: v1.30's MultiPoint list, with score weights. */
export function getDefaultPlugins(): Plugins {
  return {
    multiPoint: {
      enabled: [
        { name: Names.SchedulingGates },
        { name: Names.PrioritySort },
        { name: Names.NodeUnschedulable },
        { name: Names.NodeName },
        { name: Names.TaintToleration, weight: 3 },
        { name: Names.NodeAffinity, weight: 2 },
        { name: Names.NodePorts },
        { name: Names.NodeResourcesFit, weight: 1 },
        { name: Names.VolumeRestrictions },
        { name: Names.EBSLimits },
        { name: Names.GCEPDLimits },
        { name: Names.NodeVolumeLimits },
        { name: Names.AzureDiskLimits },
        { name: Names.VolumeBinding },
        { name: Names.VolumeZone },
        { name: Names.PodTopologySpread, weight: 2 },
        { name: Names.InterPodAffinity, weight: 2 },
        { name: Names.DefaultPreemption },
        { name: Names.NodeResourcesBalancedAllocation, weight: 1 },
        { name: Names.ImageLocality, weight: 1 },
        { name: Names.DefaultBinder },
      ],
    },
  };
}

/**
 * mergePluginSet: defaults minus the disabled ones ("*" drops them all); a
 * custom plugin of the same name replaces a default in place; the other
 * custom plugins follow. Disabled entries are kept so the framework's
 * MultiPoint expansion knows about them.
 */
export function mergePluginSet(defaults: PluginSet, custom: PluginSet): PluginSet {
  const disabled: PluginRef[] = [];
  const disabledNames = new Set<string>();
  for (const p of custom.disabled ?? []) {
    disabled.push({ name: p.name });
    disabledNames.add(p.name);
  }
  for (const p of defaults.disabled ?? []) {
    disabled.push({ name: p.name });
    disabledNames.add(p.name);
  }
  const customByName = new Map<string, { index: number; plugin: PluginRef }>();
  (custom.enabled ?? []).forEach((plugin, index) => {
    customByName.set(plugin.name, { index, plugin });
  });
  const replaced = new Set<number>();
  const enabled: PluginRef[] = [];
  if (!disabledNames.has("*")) {
    for (const d of defaults.enabled ?? []) {
      if (disabledNames.has(d.name)) continue;
      const c = customByName.get(d.name);
      if (c) {
        // Re-configured default: keep its position, take the custom settings.
        enabled.push({ ...c.plugin });
        replaced.add(c.index);
      } else {
        enabled.push({ ...d });
      }
    }
  }
  // Duplicated custom plugins are kept; building the framework reports them.
  (custom.enabled ?? []).forEach((p, i) => {
    if (!replaced.has(i)) enabled.push({ ...p });
  });
  const out: PluginSet = {};
  if (enabled.length > 0) out.enabled = enabled;
  if (disabled.length > 0) out.disabled = disabled;
  return out;
}

/** mergePlugins: every extension point (and MultiPoint) merged; no custom plugins means the defaults. */
export function mergePlugins(defaults: Plugins, custom: Plugins | undefined): Plugins {
  if (!custom) return defaults;
  const out: Plugins = {};
  for (const key of ["multiPoint", ...EXTENSION_POINTS] as const) {
    const merged = mergePluginSet(defaults[key] ?? {}, custom[key] ?? {});
    if (merged.enabled || merged.disabled) out[key] = merged;
  }
  return out;
}

/** pluginsNames: every enabled plugin name, sorted. */
export function pluginsNames(plugins: Plugins): string[] {
  const names = new Set<string>();
  for (const set of Object.values(plugins)) for (const p of (set as PluginSet | undefined)?.enabled ?? []) names.add(p.name);
  return [...names].sort();
}

function stripTypeMeta(args: Record<string, unknown>): Record<string, unknown> {
  const { apiVersion: _a, kind: _k, ...rest } = args;
  return rest;
}

/** setDefaults_KubeSchedulerProfile: merged plugins, defaulted args, and default args for plugins without config. */
export function defaultProfile(profile: KubeSchedulerProfile, registry: Registry): KubeSchedulerProfile {
  const plugins = mergePlugins(getDefaultPlugins(), profile.plugins);
  const existing = new Set<string>();
  const pluginConfig: PluginConfig[] = [];
  for (const pc of profile.pluginConfig ?? []) {
    existing.add(pc.name);
    const reg = registry.get(pc.name);
    const args = pc.args ? stripTypeMeta(pc.args) : {};
    pluginConfig.push({ name: pc.name, args: reg?.defaultArgs ? reg.defaultArgs(structuredClone(args)) : args });
  }
  for (const name of pluginsNames(plugins)) {
    if (existing.has(name)) continue;
    const reg = registry.get(name);
    // Plugins without an args kind take no configuration.
    if (!reg?.argsKind) continue;
    pluginConfig.push({ name, args: reg.defaultArgs ? reg.defaultArgs({}) : {} });
  }
  const out: KubeSchedulerProfile = { ...profile, plugins, pluginConfig };
  return out;
}

/** SetDefaults_KubeSchedulerConfiguration: returns a defaulted copy. */
export function setDefaults(cfg: KubeSchedulerConfiguration, registry: Registry): KubeSchedulerConfiguration {
  const out: KubeSchedulerConfiguration = structuredClone(cfg);
  out.apiVersion ??= SchedulerConfigAPIVersion;
  out.kind ??= SchedulerConfigKind;
  out.parallelism ??= DefaultParallelism;
  if (!out.profiles || out.profiles.length === 0) out.profiles = [{}];
  // A scheduler name is defaulted only for a lone profile; validation requires it otherwise.
  if (out.profiles.length === 1 && out.profiles[0]!.schedulerName === undefined) out.profiles[0]!.schedulerName = DefaultSchedulerName;
  out.profiles = out.profiles.map((p) => defaultProfile(p, registry));
  out.percentageOfNodesToScore ??= DefaultPercentageOfNodesToScore;
  out.podInitialBackoffSeconds ??= DefaultPodInitialBackoffSeconds;
  out.podMaxBackoffSeconds ??= DefaultPodMaxBackoffSeconds;
  return out;
}

/** The fully defaulted configuration (what kube-scheduler runs with no --config). */
export function defaultSchedulerConfig(registry: Registry): KubeSchedulerConfiguration {
  return setDefaults({ apiVersion: SchedulerConfigAPIVersion, kind: SchedulerConfigKind }, registry);
}
