/**
 * The preStop hook (upstream kuberuntime executePreStopHook): run before a
 * container is stopped, waited for at most the grace period, which the
 * caller then shortens by the time it took. A failure — even one that
 * arrives after the kubelet stopped waiting — is a `FailedPreStopHook`
 * warning with upstream's fixed text (the handler's message may hold
 * secrets, so it only goes to the log).
 */
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import { podRef } from "../events.js";
import { type HookDeps, runHandler } from "./handler-runner.js";

/** Event reason of a failed preStop hook. */
export const FAILED_PRE_STOP_HOOK = "FailedPreStopHook";

/**
 * Runs `container`'s preStop hook (if it has one) for at most
 * `gracePeriodSeconds`; resolves with the whole seconds it took (what the
 * caller deducts from the grace period).
 */
export async function runPreStop(deps: HookDeps, pod: Pod, container: Container, containerId: string, gracePeriodSeconds: number): Promise<number> {
  const hook = container.lifecycle?.preStop;
  if (!hook || gracePeriodSeconds <= 0) return 0;
  const start = deps.timers.now();
  const init = (pod.spec?.initContainers ?? []).some((c) => c.name === container.name);
  const log = { pod: `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`, container: container.name, containerID: containerId };
  deps.logger.debug("running preStop hook", log);
  const abandon = new AbortController();
  let finished = false;
  const done = runHandler(deps, pod, container, containerId, hook, abandon.signal).then((r) => {
    // A sleep cut short because the stop went ahead is not a failure worth reporting (upstream never cancels it).
    if (r.ok || r.aborted) return;
    deps.logger.warn("preStop hook failed", { ...log, err: r.message });
    deps.events.emit(podRef(pod, { name: container.name, init }), "Warning", FAILED_PRE_STOP_HOOK, "PreStopHook failed");
  }).finally(() => {
    finished = true;
  });
  let cancel: () => void = () => {};
  const expired = new Promise<void>((resolve) => {
    cancel = deps.timers.after(gracePeriodSeconds * 1000, resolve);
  });
  await Promise.race([done, expired]);
  cancel();
  if (!finished) {
    deps.logger.debug("preStop hook not completed in grace period", { ...log, gracePeriod: gracePeriodSeconds });
    abandon.abort();
  }
  return Math.floor((deps.timers.now() - start) / 1000);
}
