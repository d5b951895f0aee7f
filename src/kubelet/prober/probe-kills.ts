/**
 * Which running containers the sync loop kills because of their probes
 * (upstream computePodActions and computeInitContainerActions): a regular
 * container whose liveness probe failed — or else whose startup probe
 * failed — is killed with `Container NAME failed liveness probe, will be
 * restarted` (no ", will be restarted" under restartPolicy Never); a
 * sidecar with `Init container NAME failed startup probe` (its liveness
 * probe counts only once it started) or `… failed liveness probe`.
 */
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import type { KillReason } from "../lifecycle/kill-container.js";
import { isRestartableInit } from "../pod/container-rules.js";
import { latestContainer, type RuntimePodStatus } from "../pod/runtime-pod-status.js";
import type { ProbeResult, ProbeType } from "./types.js";

/** One container to kill, and the Killing event's text. */
export interface ProbeKill {
  readonly containerId: string;
  readonly name: string;
  readonly container: Container;
  readonly message: string;
  readonly reason: Extract<KillReason, "LivenessProbe" | "StartupProbe">;
}

/** The containers of `pod` to kill now for failed liveness or startup probes. */
export function containersToKillForProbes(pod: Pod, status: RuntimePodStatus, result: (type: ProbeType, containerId: string) => ProbeResult | undefined): ProbeKill[] {
  if (pod.metadata?.deletionTimestamp) return [];
  const out: ProbeKill[] = [];
  for (const c of (pod.spec?.initContainers ?? []).filter(isRestartableInit)) {
    const l = latestContainer(status, c.name);
    if (l?.state !== "running") continue;
    if (c.startupProbe) {
      const startup = result("startup", l.id);
      // Not started yet: its liveness probe does not count.
      if (startup !== "success") {
        if (startup === "failure") out.push({ containerId: l.id, name: c.name, container: c, message: `Init container ${c.name} failed startup probe`, reason: "StartupProbe" });
        continue;
      }
    }
    if (c.livenessProbe && result("liveness", l.id) === "failure") {
      out.push({ containerId: l.id, name: c.name, container: c, message: `Init container ${c.name} failed liveness probe`, reason: "LivenessProbe" });
    }
  }
  const restart = (pod.spec?.restartPolicy ?? "Always") !== "Never";
  for (const c of pod.spec?.containers ?? []) {
    const l = latestContainer(status, c.name);
    if (l?.state !== "running") continue;
    let message: string;
    let reason: ProbeKill["reason"];
    if (result("liveness", l.id) === "failure") {
      message = `Container ${c.name} failed liveness probe`;
      reason = "LivenessProbe";
    } else if (result("startup", l.id) === "failure") {
      message = `Container ${c.name} failed startup probe`;
      reason = "StartupProbe";
    } else continue;
    // Intent made clear when it comes back (the restart policy decides).
    if (restart) message += ", will be restarted";
    out.push({ containerId: l.id, name: c.name, container: c, message, reason });
  }
  return out;
}
