/**
 * The scheduling core's public surface, for the wiring (informers, binding,
 * events, leader election) and for plugin authors. Everything here is pure:
 * no I/O but the injected bind function.
 */
export { completeSchedulerConfig, decodeSchedulerConfig, loadSchedulerConfig, type ConfigResult } from "./config/load.js";
export { defaultSchedulerConfig, getDefaultPlugins, setDefaults } from "./config/defaults.js";
export type { KubeSchedulerConfiguration, KubeSchedulerProfile, PluginConfig, PluginSet, Plugins } from "./config/types.js";
export { Cache, type CacheOptions } from "./framework/cache.js";
export { CycleState, type StateData } from "./framework/cycle-state.js";
export * from "./framework/events.js";
export { type Diagnosis, ErrNoNodesAvailable, FitError } from "./framework/fit-error.js";
export { Framework, type FrameworkOptions, type NodePluginScores } from "./framework/framework.js";
export { listersFromObjects } from "./framework/listers.js";
export { NodeInfo } from "./framework/node-info.js";
export { PodInfo, QueuedPodInfo, podKey } from "./framework/pod-info.js";
export type { PluginRegistration, Registry } from "./framework/registry.js";
export { type ScheduleOutcome, type ScheduleResult, schedulePod } from "./framework/schedule-pod.js";
export { Snapshot } from "./framework/snapshot.js";
export { Code, Status } from "./framework/status.js";
export { systemTimers, type Timers } from "./framework/timers.js";
export type * from "./framework/types.js";
export { Names } from "./plugins/names.js";
export { newInTreeRegistry } from "./plugins/registry.js";
export { PodReasonSchedulingGated } from "./plugins/scheduling-gates/scheduling-gates.js";
export { admissionCheck, preCheckForNode } from "./pre-check.js";
export { buildProfiles, type ProfilesResult } from "./profile.js";
export { type PreEnqueueCheck, PriorityQueue, type PriorityQueueOptions } from "./queue/scheduling-queue.js";
export { MaxNodeScore, MinNodeScore, mergePreFilterResults, NominatingMode, preFilterAllNodes } from "./framework/types.js";
export { defaultNormalizeScore } from "./framework/normalize-score.js";
