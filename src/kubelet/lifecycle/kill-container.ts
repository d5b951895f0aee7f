/**
 * Stopping one container as upstream's kuberuntime killContainer does: the
 * grace period is the pod's deletion grace period, else its
 * terminationGracePeriodSeconds (or the failing liveness/startup probe's
 * own terminationGracePeriodSeconds when that is why it dies); a `Killing`
 * event says why; the preStop hook runs within the grace period, which
 * shrinks by the time it took; a stop always gets at least 2 seconds
 * unless the caller overrides the grace period.
 */
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import { ok, type RuntimeResult } from "../../runtime/types.js";
import { podRef } from "../events.js";
import type { HookDeps } from "./handler-runner.js";
import { runPreStop } from "./pre-stop.js";

/** upstream minimumGracePeriodInSeconds. */
export const MIN_GRACE_PERIOD_SECONDS = 2;

/** Why a container is killed (upstream containerKillReason); only the probe ones change the grace period. */
export type KillReason = "LivenessProbe" | "StartupProbe" | "FailedPostStartHook" | "Unknown";

/** Options of {@link killContainer}. */
export interface KillOptions {
  /** The Killing event's text; default `Stopping container NAME`. */
  readonly message?: string;
  readonly reason?: KillReason;
  /** Used as is for the stop (after the preStop hook), e.g. a forced delete's 0. */
  readonly gracePeriodOverride?: number;
}

/** upstream setTerminationGracePeriod. */
export function terminationGracePeriod(pod: Pod, container: Container | undefined, reason: KillReason | undefined): number {
  const deletion = pod.metadata?.deletionGracePeriodSeconds;
  if (deletion !== undefined && deletion !== null) return deletion;
  const spec = pod.spec?.terminationGracePeriodSeconds;
  if (spec === undefined || spec === null) return MIN_GRACE_PERIOD_SECONDS;
  const probe = reason === "LivenessProbe" ? container?.livenessProbe : reason === "StartupProbe" ? container?.startupProbe : undefined;
  const own = probe?.terminationGracePeriodSeconds;
  return own !== undefined && own !== null ? own : spec;
}

/**
 * Kills container `containerId` (named `name`, spec `container` when the
 * pod still has it). Resolves with the stop's outcome; a container that is
 * already gone (NotFound) counts as stopped.
 */
export async function killContainer(deps: HookDeps, pod: Pod, name: string, container: Container | undefined, containerId: string, opts: KillOptions = {}): Promise<RuntimeResult<void>> {
  let grace = terminationGracePeriod(pod, container, opts.reason);
  const init = (pod.spec?.initContainers ?? []).some((c) => c.name === name);
  deps.events.emit(podRef(pod, { name, init }), "Normal", "Killing", opts.message || `Stopping container ${name}`);
  if (container?.lifecycle?.preStop && grace > 0) grace -= await runPreStop(deps, pod, container, containerId, grace);
  if (opts.gracePeriodOverride === undefined) grace = Math.max(grace, MIN_GRACE_PERIOD_SECONDS);
  else grace = opts.gracePeriodOverride;
  deps.logger.debug("killing container with a grace period", {
    pod: `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`,
    container: name,
    containerID: containerId,
    gracePeriod: grace,
  });
  const r = await deps.runtime.stopContainer(containerId, grace);
  if (!r.ok && r.error.code !== "NotFound") return r;
  return ok(undefined);
}
