/**
 * Makes sure a container's image is present before it is created, as
 * upstream's images.imageManager.EnsureImageExists: pull policy, per
 * pod-and-image back-off (ErrImagePull, then ImagePullBackOff until the
 * delay passes), and the Pulling/Pulled/Failed/BackOff events with
 * upstream's messages.
 */
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import type { Clock } from "../../machinery/clock.js";
import { type ContainerRuntime, formatRuntimeError } from "../../runtime/types.js";
import type { Backoff } from "../backoff.js";
import { type KubeletEvents, podRef, Reason } from "../events.js";
import { goDuration } from "../go-format.js";

/** The image is there: its reference (what `imageID` shows). */
export interface ImageReady {
  readonly ok: true;
  readonly imageRef: string;
}

/** It is not: the waiting reason and message the container shows. */
export interface ImageNotReady {
  readonly ok: false;
  /** ErrImagePull, ImagePullBackOff, ErrImageNeverPull, InvalidImageName. */
  readonly reason: string;
  readonly message: string;
  /** When a retry makes sense (the back-off's end), for ImagePullBackOff. */
  readonly retryAt?: number;
}

/** Upstream's pull-policy rule. */
function shouldPull(policy: string | undefined, present: boolean): boolean {
  if (policy === "Never") return false;
  return policy === "Always" || !present;
}

/** Ensures the image of `container` (of `pod`) exists on the node. */
export async function ensureImageExists(
  runtime: ContainerRuntime,
  backoff: Backoff,
  events: KubeletEvents,
  clock: Clock,
  pod: Pod,
  container: Container,
  init: boolean,
): Promise<ImageReady | ImageNotReady> {
  const ref = podRef(pod, { name: container.name, init });
  const image = container.image ?? "";
  if (image === "" || /\s/.test(image)) {
    const message = `Failed to apply default image tag "${image}": couldn't parse image name "${image}": invalid reference format`;
    events.emit(ref, "Warning", Reason.InspectFailed, message);
    return { ok: false, reason: "InvalidImageName", message };
  }
  const st = await runtime.imageStatus(image);
  if (!st.ok) {
    const message = `Failed to inspect image "${image}": ${formatRuntimeError(st.error)}`;
    events.emit(ref, "Warning", Reason.InspectFailed, message);
    return { ok: false, reason: "ImageInspectError", message };
  }
  const present = st.value !== undefined;
  if (!shouldPull(container.imagePullPolicy, present)) {
    if (present) {
      events.emit(ref, "Normal", Reason.Pulled, `Container image "${image}" already present on machine`);
      return { ok: true, imageRef: st.value!.repoDigests[0] ?? st.value!.id };
    }
    const message = `Container image "${image}" is not present with pull policy of Never`;
    events.emit(ref, "Warning", Reason.ErrImageNeverPull, message);
    return { ok: false, reason: "ErrImageNeverPull", message };
  }
  const key = `${pod.metadata?.uid ?? ""}_${image}`;
  if (backoff.isInBackOffSinceUpdate(key)) {
    const message = `Back-off pulling image "${image}"`;
    events.emit(ref, "Normal", Reason.BackOff, message, "PullImage");
    return { ok: false, reason: "ImagePullBackOff", message, retryAt: (backoff.lastUpdate(key) ?? clock.now()) + backoff.get(key) };
  }
  events.emit(ref, "Normal", Reason.Pulling, `Pulling image "${image}"`);
  const started = clock.now();
  const pulled = await runtime.pullImage(image);
  if (!pulled.ok) {
    const err = formatRuntimeError(pulled.error);
    events.emit(ref, "Warning", Reason.Failed, `Failed to pull image "${image}": ${err}`, "PullImage");
    backoff.next(key, clock.now());
    if (pulled.error.code === "Unavailable") return { ok: false, reason: "RegistryUnavailable", message: `image pull failed for ${image} because the registry is unavailable: ${pulled.error.message}` };
    return { ok: false, reason: "ErrImagePull", message: err };
  }
  const took = goDuration(clock.now() - started);
  const after = await runtime.imageStatus(image);
  const size = after.ok ? (after.value?.size ?? 0) : 0;
  events.emit(ref, "Normal", Reason.Pulled, `Successfully pulled image "${image}" in ${took} (${took} including waiting). Image size: ${size} bytes.`);
  backoff.gc();
  return { ok: true, imageRef: pulled.value };
}
