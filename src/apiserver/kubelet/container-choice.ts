/**
 * Which container a pods/log, pods/exec or pods/attach request is for, as
 * upstream's validateContainer: the named one if the pod has it (regular,
 * init or ephemeral), the only one when none is named, else 400 listing
 * the choices. (kubectl reads the `kubectl.kubernetes.io/default-container`
 * annotation itself and names that container; the API server does not.)
 */
import { badRequest } from "../../machinery/status-error.js";
import type { KObject } from "../registry/types.js";

interface Named {
  name?: string;
}

interface PodSpecFields {
  containers?: Named[];
  initContainers?: Named[];
  ephemeralContainers?: Named[];
}

/** Every container name of the pod in upstream's VisitContainers order: init, regular, ephemeral. */
export function containerNames(pod: KObject): string[] {
  const s = (pod.spec ?? {}) as PodSpecFields;
  return [...(s.initContainers ?? []), ...(s.containers ?? []), ...(s.ephemeralContainers ?? [])].map((c) => c.name ?? "");
}

/** The container to use for `podName`, or a 400 worded as upstream's. */
export function chooseContainer(pod: KObject, podName: string, container: string | undefined): string {
  const s = (pod.spec ?? {}) as PodSpecFields;
  if (!container) {
    const regular = s.containers ?? [];
    if (regular.length === 1) return regular[0]!.name ?? "";
    if (regular.length === 0) throw badRequest(`a container name must be specified for pod ${podName}`);
    throw badRequest(`a container name must be specified for pod ${podName}, choose one of: [${containerNames(pod).join(" ")}]`);
  }
  if (!containerNames(pod).includes(container)) throw badRequest(`container ${container} is not valid for pod ${podName}`);
  return container;
}
