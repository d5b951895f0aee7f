/**
 * ErrImagePull / ImagePullBackOff / InvalidImageName: why the kubelet
 * cannot pull, read from the container's waiting message and the pod's
 * `Failed` events, sorted into not found, unauthorized and unreachable.
 */
import type { ContainerStatus, Event, Pod } from "kubernetes-types/core/v1.js";
import { describeEvent } from "./events.js";
import { describeRegistry, parseImageRef } from "./image-ref.js";
import { type Finding, objectRef } from "./types.js";

/** Why a pull failed. */
export type PullFailure = "unauthorized" | "not-found" | "unreachable" | "invalid-name" | "unknown";

/** Sorts a pull error message. Authorization comes first: "repository does not exist or may require authorization" is how registries answer an anonymous pull of a private image. */
export function classifyPullError(message: string): PullFailure {
  const m = message.toLowerCase();
  if (/invalid reference format|invalidimagename|couldn't parse image/.test(m)) return "invalid-name";
  if (/unauthorized|authorization|authentication required|access denied|denied|forbidden|\b401\b|\b403\b|no basic auth credentials/.test(m)) return "unauthorized";
  if (
    /connection refused|no such host|i\/o timeout|dial tcp|network is unreachable|no route to host|tls handshake|x509|certificate|deadline exceeded|server misbehaving|econnrefused|enotfound|eai_again|ehostunreach|etimedout|temporary failure in name resolution/.test(
      m,
    )
  ) {
    return "unreachable";
  }
  if (/not found|manifest unknown|name unknown|does not exist|no such image/.test(m)) return "not-found";
  return "unknown";
}

const PULL_REASONS = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"]);

/** Whether a container status is stuck pulling. */
export function isPullFailure(cs: ContainerStatus): boolean {
  return PULL_REASONS.has(cs.state?.waiting?.reason ?? "");
}

/** The finding for one container that cannot pull its image. */
export function diagnoseImagePull(pod: Pod, cs: ContainerStatus, podEvents: readonly Event[]): Finding {
  const ns = pod.metadata?.namespace;
  const image = cs.image || findSpecImage(pod, cs.name) || "";
  const ref = parseImageRef(image);
  const registry = describeRegistry(ref);
  const waiting = cs.state?.waiting;
  // The kubelet's Failed event carries the runtime's message; the waiting
  // message is often only "Back-off pulling image …".
  const pullEvents = podEvents.filter(
    (e) => (e.reason === "Failed" || e.reason === "ErrImagePull" || e.reason === "InspectFailed") && (e.message ?? "").includes(image),
  );
  const messages = [waiting?.message ?? "", ...pullEvents.map((e) => e.message ?? "")];
  const kind = messages.map(classifyPullError).find((k) => k !== "unknown") ?? (waiting?.reason === "InvalidImageName" ? "invalid-name" : "unknown");
  const evidence = [
    `container ${cs.name} waiting: ${waiting?.reason ?? ""}${waiting?.message ? `: ${waiting.message}` : ""}`,
    ...pullEvents.slice(0, 2).map(describeEvent),
  ];
  const secrets = (pod.spec?.imagePullSecrets ?? []).map((s) => s.name).filter(Boolean);
  const where = `${ref.repository}${ref.tag ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
  let cause: string;
  let fix: string;
  switch (kind) {
    case "not-found":
      cause = `Image "${image}" does not exist: ${registry} has no ${where}. Usually a wrong tag or a typo in the repository name.`;
      fix = `Check which tags exist (skopeo list-tags docker://${ref.host ? `${ref.host}/` : ""}${ref.repository}), push the image if it was never pushed, or fix the image in the pod's owner (kubectl set image …).`;
      break;
    case "unauthorized":
      cause = `${capitalize(registry)} refused to let the node pull "${image}" (unauthorized): the repository is private or does not exist.`;
      fix =
        secrets.length > 0
          ? `The pod uses imagePullSecrets ${secrets.join(", ")}: check that they exist in namespace ${ns} and hold valid credentials for ${ref.host ?? "that registry"} (and that the repository name is right).`
          : `Create a pull secret (kubectl create secret docker-registry NAME --docker-server=${ref.host ?? "HOST"} --docker-username=… --docker-password=… -n ${ns}) and add it to the pod's imagePullSecrets (or its ServiceAccount's); or allow anonymous pull of the repository.`;
      break;
    case "unreachable":
      cause = `The node cannot reach ${registry} to pull "${image}" (connection, DNS or TLS failure).`;
      fix = `Check that ${ref.host ?? "the registry"} is running and that the node resolves and reaches it (and trusts its certificate); fix the host in the image name if it is wrong.`;
      break;
    case "invalid-name":
      cause = `"${image}" is not a valid image reference.`;
      fix = "Fix the image name in the pod's owner (lower-case repository, optional :tag or @sha256:digest).";
      break;
    default:
      cause = `The node cannot pull "${image}" from ${registry}.`;
      fix = "Read the pull error in the evidence; check the image name, tag and pull credentials.";
  }
  return { object: objectRef("Pod", pod.metadata?.name, ns), severity: "error", cause, fix, evidence };
}

function findSpecImage(pod: Pod, container: string): string | undefined {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((c) => c.name === container)?.image;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
