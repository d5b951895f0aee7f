/**
 * KubeSchedulerConfiguration, kubescheduler.config.k8s.io/v1 (the fields the
 * scheduler core uses; the rest of upstream's top-level fields are accepted
 * and passed through for the wiring).
 */

export const SchedulerConfigAPIVersion = "kubescheduler.config.k8s.io/v1";
export const SchedulerConfigKind = "KubeSchedulerConfiguration";
export const DefaultSchedulerName = "default-scheduler";

/** A plugin enabled or disabled at an extension point; weight is for Score (and MultiPoint). */
export interface PluginRef {
  name: string;
  weight?: number;
}

export interface PluginSet {
  enabled?: PluginRef[];
  /** `{name: "*"}` disables every default plugin of the extension point. */
  disabled?: PluginRef[];
}

/** The extension points, as config field names, in upstream's order. */
export const EXTENSION_POINTS = [
  "preEnqueue",
  "queueSort",
  "preFilter",
  "filter",
  "postFilter",
  "preScore",
  "score",
  "reserve",
  "permit",
  "preBind",
  "bind",
  "postBind",
] as const;

export type ExtensionPoint = (typeof EXTENSION_POINTS)[number];

export type Plugins = { [K in ExtensionPoint | "multiPoint"]?: PluginSet };

/** Args for one plugin; `args` is the plugin's own object (kind "<Name>Args"). */
export interface PluginConfig {
  name: string;
  args?: Record<string, unknown>;
}

export interface KubeSchedulerProfile {
  /** Pods with this spec.schedulerName use the profile. */
  schedulerName?: string;
  /** Overrides the global percentageOfNodesToScore for this profile. */
  percentageOfNodesToScore?: number;
  plugins?: Plugins;
  pluginConfig?: PluginConfig[];
}

export interface KubeSchedulerConfiguration {
  apiVersion?: string;
  kind?: string;
  parallelism?: number;
  /** 0 means the adaptive default (50 - nodes/125, at least 5%). */
  percentageOfNodesToScore?: number;
  podInitialBackoffSeconds?: number;
  podMaxBackoffSeconds?: number;
  profiles?: KubeSchedulerProfile[];
  /** Passed through for the wiring. */
  leaderElection?: Record<string, unknown>;
  clientConnection?: Record<string, unknown>;
  healthzBindAddress?: string;
  metricsBindAddress?: string;
  enableProfiling?: boolean;
  enableContentionProfiling?: boolean;
  delayCacheUntilActive?: boolean;
  /** Scheduler extenders are not supported; a non-empty list is rejected. */
  extenders?: unknown[];
}
