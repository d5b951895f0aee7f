/**
 * ContainerCreating / CreateContainerConfigError: the Secret, ConfigMap or
 * volume the kubelet cannot find (FailedMount events, waiting messages).
 */
import type { ContainerStatus, Event, Pod } from "kubernetes-types/core/v1.js";
import { describeEvent } from "./events.js";
import { type Finding, objectRef } from "./types.js";

/** What a mount or config error names as missing. */
export interface MissingThing {
  readonly kind: "Secret" | "ConfigMap" | "PersistentVolumeClaim" | "key";
  readonly name: string;
  readonly detail?: string;
}

/** Reads `secret "x" not found`, `configmap "y" not found`, `couldn't find key k in Secret ns/x` from a message. */
export function missingFromMessage(message: string): MissingThing | undefined {
  let m = /secrets? "([^"]+)" not found/i.exec(message);
  if (m) return { kind: "Secret", name: m[1]! };
  m = /configmaps? "([^"]+)" not found/i.exec(message);
  if (m) return { kind: "ConfigMap", name: m[1]! };
  m = /persistentvolumeclaims? "([^"]+)" not found/i.exec(message);
  if (m) return { kind: "PersistentVolumeClaim", name: m[1]! };
  m = /couldn't find key (\S+) in (Secret|ConfigMap) ([^\s/]+)\/(\S+)/i.exec(message);
  if (m) return { kind: "key", name: m[4]!, detail: `${m[2]} ${m[3]}/${m[4]} has no key ${m[1]}` };
  return undefined;
}

function fixFor(miss: MissingThing, ns: string): string {
  switch (miss.kind) {
    case "Secret":
      return `Create Secret "${miss.name}" in namespace ${ns} (kubectl create secret generic ${miss.name} -n ${ns} --from-literal=…), fix the name in the pod's owner, or mark the reference optional: true.`;
    case "ConfigMap":
      return `Create ConfigMap "${miss.name}" in namespace ${ns} (kubectl create configmap ${miss.name} -n ${ns} --from-file=…), fix the name, or mark the reference optional: true.`;
    case "PersistentVolumeClaim":
      return `Create PersistentVolumeClaim "${miss.name}" in namespace ${ns} or fix claimName.`;
    default:
      return "Add the key to the object, fix the key name in the pod's owner, or mark the reference optional: true.";
  }
}

/** Findings for a scheduled pod whose containers are not created yet (mount failures). */
export function diagnoseMounts(pod: Pod, podEvents: readonly Event[]): Finding[] {
  const ns = pod.metadata?.namespace ?? "";
  const object = objectRef("Pod", pod.metadata?.name, ns);
  const out: Finding[] = [];
  const seen = new Set<string>();
  for (const e of podEvents.filter((e) => e.reason === "FailedMount" || e.reason === "FailedAttachVolume")) {
    const miss = missingFromMessage(e.message ?? "");
    const key = miss ? `${miss.kind}/${miss.name}` : (e.message ?? "");
    if (seen.has(key)) continue;
    seen.add(key);
    const vol = /volume "([^"]+)"/.exec(e.message ?? "")?.[1];
    out.push({
      object,
      severity: "error",
      cause: miss
        ? `The kubelet cannot mount ${vol ? `volume "${vol}"` : "a volume"}: ${miss.detail ?? `${miss.kind} "${miss.name}" does not exist in namespace ${ns}`}, so the containers are not created.`
        : `The kubelet cannot mount ${vol ? `volume "${vol}"` : "a volume"}: ${e.message ?? ""}`,
      fix: miss ? fixFor(miss, ns) : "Fix the volume named in the event.",
      evidence: [describeEvent(e)],
    });
  }
  return out;
}

/** The finding for a container in CreateContainerConfigError (a missing Secret/ConfigMap or key in env). */
export function diagnoseConfigError(pod: Pod, cs: ContainerStatus): Finding {
  const ns = pod.metadata?.namespace ?? "";
  const message = cs.state?.waiting?.message ?? "";
  const miss = missingFromMessage(message);
  return {
    object: objectRef("Pod", pod.metadata?.name, ns),
    severity: "error",
    cause: miss
      ? `Container ${cs.name} cannot be created: ${miss.detail ?? `${miss.kind} "${miss.name}" it reads (env/envFrom) does not exist in namespace ${ns}`}.`
      : `Container ${cs.name} cannot be created: ${message}`,
    fix: miss ? fixFor(miss, ns) : "Fix the container configuration named in the message.",
    evidence: [`container ${cs.name} waiting: ${cs.state?.waiting?.reason ?? ""}: ${message}`],
  };
}
