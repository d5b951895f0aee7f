/**
 * The postStart hook (upstream kuberuntime startContainer, step 4): run
 * right after the container started, before the kubelet goes on with the
 * pod. When it fails the container is killed (`Killing
 * "FailedPostStartHook"`, after a `FailedPostStartHook` warning with
 * upstream's fixed text "PostStartHook failed") and the start counts as
 * failed with reason `PostStartHookError` and the handler's message — what
 * the container's waiting state then shows.
 */
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import { formatRuntimeError } from "../../runtime/types.js";
import { podRef } from "../events.js";
import { type HookDeps, runHandler } from "./handler-runner.js";
import { killContainer } from "./kill-container.js";

/** Event reason of a failed postStart hook. */
export const FAILED_POST_START_HOOK = "FailedPostStartHook";
/** The start error a failed postStart hook leaves (upstream ErrPostStartHook). */
export const POST_START_HOOK_ERROR = "PostStartHookError";

/** The outcome of {@link runPostStart}: on failure, the reason and message for the container's waiting state. */
export type PostStartResult = { readonly ok: true } | { readonly ok: false; readonly reason: typeof POST_START_HOOK_ERROR; readonly message: string };

/** Runs `container`'s postStart hook, if it has one, and kills the container when it fails. */
export async function runPostStart(deps: HookDeps, pod: Pod, container: Container, containerId: string): Promise<PostStartResult> {
  const hook = container.lifecycle?.postStart;
  if (!hook) return { ok: true };
  const r = await runHandler(deps, pod, container, containerId, hook);
  if (r.ok) return { ok: true };
  const init = (pod.spec?.initContainers ?? []).some((c) => c.name === container.name);
  const log = { pod: `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`, container: container.name, containerID: containerId };
  deps.logger.warn("postStart hook failed", { ...log, err: r.message });
  // The handler's message may hold secrets: it goes to the status, not to the event.
  deps.events.emit(podRef(pod, { name: container.name, init }), "Warning", FAILED_POST_START_HOOK, "PostStartHook failed");
  const killed = await killContainer(deps, pod, container.name, container, containerId, { message: FAILED_POST_START_HOOK, reason: "FailedPostStartHook" });
  if (!killed.ok) deps.logger.warn("could not kill the container after its postStart hook failed", { ...log, err: formatRuntimeError(killed.error) });
  return { ok: false, reason: POST_START_HOOK_ERROR, message: r.message };
}
