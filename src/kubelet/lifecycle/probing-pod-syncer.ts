/**
 * The pod syncer with what upstream's runtime manager does around the
 * plain sync: before a sync, containers whose liveness or startup probe
 * failed are killed (preStop hook, probe grace period, `Killing` event) so
 * the sync restarts them per the restart policy and crash-loop back-off;
 * and the runtime's view of exited containers carries their termination
 * messages (file at terminationMessagePath, or the log's end under
 * FallbackToLogsOnError), so the status shows them.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import { formatRuntimeError } from "../../runtime/types.js";
import { podRef, Reason } from "../events.js";
import { type PodSyncerOptions, PodSyncer, podKey, type SyncOutcome } from "../pod/sync-pod.js";
import type { RuntimePodStatus } from "../pod/runtime-pod-status.js";
import { containersToKillForProbes } from "../prober/probe-kills.js";
import type { ProbeResult, ProbeType } from "../prober/types.js";
import type { ReasonEntry } from "../status/generate.js";
import { type TerminationMessages, withTerminationMessage } from "../status/termination-message.js";
import type { HookDeps } from "./handler-runner.js";
import { killContainer } from "./kill-container.js";

/** What the probing syncer adds to a {@link PodSyncer}'s options. */
export interface ProbingPodSyncerOptions extends PodSyncerOptions {
  /** Cached probe results (the prober manager). */
  readonly probeResult: (type: ProbeType, containerId: string) => ProbeResult | undefined;
  readonly hooks: HookDeps;
  readonly terminationMessages: TerminationMessages;
  /** The pod of a UID as the kubelet knows it (for terminationMessagePolicy). */
  readonly podOf: (uid: string) => Pod | undefined;
}

/** A {@link PodSyncer} that acts on probe results and shows termination messages. */
export class ProbingPodSyncer extends PodSyncer {
  private readonly p: ProbingPodSyncerOptions;

  constructor(o: ProbingPodSyncerOptions) {
    super(o);
    this.p = o;
  }

  /** The runtime's view, with exited containers' termination messages. */
  override async status(uid: string): Promise<RuntimePodStatus> {
    const st = await super.status(uid);
    if (!st.containers.some((c) => c.state === "exited")) return st;
    const pod = this.p.podOf(uid);
    const specOf = (name: string) => [...(pod?.spec?.containers ?? []), ...(pod?.spec?.initContainers ?? [])].find((c) => c.name === name);
    const rt = this.p.runtime;
    const containers = await Promise.all(
      st.containers.map(async (c) => {
        if (c.state !== "exited") return c;
        const load = async () => {
          const s = await rt.containerStatus(c.id);
          return s.ok ? s.value : undefined;
        };
        const t = await this.p.terminationMessages.of(c.id, load, specOf(c.name)?.terminationMessagePolicy);
        return t ? { ...c, message: withTerminationMessage(c.message, t) } : c;
      }),
    );
    return { ...st, containers };
  }

  /** Kills containers that failed liveness or startup probes, then syncs. */
  override async syncPod(pod: Pod, reasons: Map<string, ReasonEntry>): Promise<SyncOutcome> {
    const before = await super.status(pod.metadata?.uid ?? "");
    const kills = containersToKillForProbes(pod, before, this.p.probeResult);
    for (const k of kills) {
      const r = await killContainer(this.p.hooks, pod, k.name, k.container, k.containerId, { message: k.message, reason: k.reason });
      if (!r.ok) {
        this.p.events.emit(podRef(pod), "Warning", Reason.FailedKillPod, `error killing pod: failed to "KillContainer" for "${k.name}" with KillContainerError: "${formatRuntimeError(r.error)}"`);
        this.p.logger.warn("could not kill a container that failed its probe", { pod: podKey(pod), container: k.name, err: formatRuntimeError(r.error) });
      }
    }
    const out = await super.syncPod(pod, reasons);
    return kills.length > 0 ? { ...out, changed: true } : out;
  }
}
