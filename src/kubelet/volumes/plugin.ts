/**
 * What every volume plugin gets and returns. A plugin's SetUp prepares one
 * volume of one pod on the host and says where it is; failures are values
 * whose message follows upstream's (the volume manager prefixes
 * `MountVolume.SetUp failed for volume "NAME" : `).
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import type { Logger } from "../../machinery/log.js";
import type { ResourceList } from "../pod/env-fieldpath.js";
import type { Mounter } from "./mounter.js";
import type { PodObjects } from "./objects.js";
import type { TokenManager } from "./token-manager.js";

/** The environment of a SetUp. */
export interface PluginContext {
  readonly pod: Pod;
  /** The kubelet root directory. */
  readonly rootDir: string;
  readonly mounter: Mounter;
  readonly objects?: PodObjects;
  readonly nodeAllocatable: ResourceList;
  readonly tokens: TokenManager;
  readonly logger: Logger;
  /** Wall-clock time for AtomicWriter directory names and token ages. */
  readonly now: () => number;
}

/** A prepared volume. */
export interface SetUpVolume {
  /** The host path containers bind. */
  readonly path: string;
  /** The plugin forces read-only mounts (configMap, secret, projected, downwardAPI, read-only claims). */
  readonly readOnly: boolean;
  /** Set up again on every pod sync (configMap, secret, projected, downwardAPI: their content follows the API). */
  readonly remount: boolean;
  /** The name events use (the PV's name for claims, as upstream). */
  readonly displayName?: string;
}

/**
 * The outcome of a SetUp. `stage: "process"` is a failure before SetUp
 * (resolving a claim), which upstream reports as "failed to process
 * volumes" rather than a SetUp failure.
 */
export type SetUpResult =
  | { readonly ok: true; readonly volume: SetUpVolume }
  | { readonly ok: false; readonly message: string; readonly stage?: "setup" | "process"; readonly displayName?: string };

export const setUpFailed = (message: string, displayName?: string): SetUpResult => ({ ok: false, message, stage: "setup", ...(displayName ? { displayName } : {}) });

/** upstream utilerrors.NewAggregate(...).Error(): one message as is, several deduplicated in brackets. */
export function aggregate(messages: readonly string[]): string {
  const seen: string[] = [];
  for (const m of messages) if (!seen.includes(m)) seen.push(m);
  return seen.length === 1 ? seen[0]! : `[${seen.join(", ")}]`;
}
