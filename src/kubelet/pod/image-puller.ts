/**
 * Makes sure a container's image is present before it is created, as
 * upstream's images.imageManager.EnsureImageExists: pull policy, per
 * pod-and-image back-off (ErrImagePull, then ImagePullBackOff until the
 * delay passes), and the Pulling/Pulled/Failed/BackOff events with
 * upstream's messages.
 */
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import type { Clock } from "../../machinery/clock.js";
import { type AuthConfig, type ContainerRuntime, formatRuntimeError } from "../../runtime/types.js";
import type { Backoff } from "../backoff.js";
import { type KubeletEvents, podRef, Reason } from "../events.js";
import { goDuration } from "../go-format.js";
import type { PullCredentials } from "./pull-secrets.js";

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

type Pulled = { ok: true; value: string } | { ok: false; message: string; unavailable?: string };

/**
 * Pulls with each matching credential in turn (anonymously when there is
 * none), as upstream's PullImage: the first success wins; failures are
 * reported together, upstream's aggregate form when there are several.
 */
async function pullWithCredentials(runtime: ContainerRuntime, image: string, auths: readonly AuthConfig[]): Promise<Pulled> {
  if (auths.length === 0) {
    const r = await runtime.pullImage(image);
    if (r.ok) return r;
    return { ok: false, message: formatRuntimeError(r.error), ...(r.error.code === "Unavailable" ? { unavailable: r.error.message } : {}) };
  }
  const errors: string[] = [];
  for (const auth of auths) {
    const r = await runtime.pullImage(image, auth);
    if (r.ok) return r;
    errors.push(formatRuntimeError(r.error));
  }
  return { ok: false, message: errors.length === 1 ? errors[0]! : `[${errors.join(", ")}]` };
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
  credentials: PullCredentials = { auths: [], missing: [] },
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
  if (credentials.missing.length > 0) {
    events.emit(
      podRef(pod),
      "Warning",
      Reason.FailedToRetrieveImagePullSecret,
      `Unable to retrieve some image pull secrets (${credentials.missing.join(", ")}); attempting to pull the image may not succeed.`,
    );
  }
  events.emit(ref, "Normal", Reason.Pulling, `Pulling image "${image}"`);
  const started = clock.now();
  const pulled = await pullWithCredentials(runtime, image, credentials.auths);
  if (!pulled.ok) {
    const err = pulled.message;
    events.emit(ref, "Warning", Reason.Failed, `Failed to pull image "${image}": ${err}`, "PullImage");
    backoff.next(key, clock.now());
    if (pulled.unavailable) return { ok: false, reason: "RegistryUnavailable", message: `image pull failed for ${image} because the registry is unavailable: ${pulled.unavailable}` };
    return { ok: false, reason: "ErrImagePull", message: err };
  }
  const took = goDuration(clock.now() - started);
  const after = await runtime.imageStatus(image);
  const size = after.ok ? (after.value?.size ?? 0) : 0;
  events.emit(ref, "Normal", Reason.Pulled, `Successfully pulled image "${image}" in ${took} (${took} including waiting). Image size: ${size} bytes.`);
  backoff.gc();
  return { ok: true, imageRef: pulled.value };
}
