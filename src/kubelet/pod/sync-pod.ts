/**
 * Drives the runtime toward a pod's spec, as upstream's kuberuntime
 * SyncPod/computePodActions: a sandbox first (re-created when it died),
 * then init containers one at a time in order (sidecars — restartable init
 * containers — started and kept running), then every app container that
 * should run by the restart policy, each start gated by the crash-loop
 * back-off and preceded by the image pull. Volumes are prepared before
 * the sandbox (upstream's WaitForAttachAndMount): a volume that cannot be
 * mounted keeps the pod ContainerCreating with FailedMount events; each
 * container gets its environment and mounts built as upstream's
 * generateContainerConfig, a missing ConfigMap/Secret/key failing it with
 * CreateContainerConfigError. Also stops (KillPod) and removes pods,
 * tearing volumes down. Outcomes are values (DESIGN.md §4.2).
 */
import { mkdir, readdir, rm } from "node:fs/promises";
import { join, sep } from "node:path";
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import type { Clock } from "../../machinery/clock.js";
import type { Logger } from "../../machinery/log.js";
import { type ContainerRuntime, formatRuntimeError, type Mount } from "../../runtime/types.js";
import type { Backoff } from "../backoff.js";
import { type KubeletEvents, podRef, Reason } from "../events.js";
import { formatPod, goDuration } from "../go-format.js";
import { POD_UID_LABEL } from "../runtime-labels.js";
import type { ReasonEntry } from "../status/generate.js";
import { goError } from "../volumes/go-errors.js";
import type { PodObjects } from "../volumes/objects.js";
import { podDir } from "../volumes/paths.js";
import { FAILED_MOUNT, mountsWithoutManager, type VolumeManager } from "../volumes/volume-manager.js";
import type { HookDeps } from "../lifecycle/handler-runner.js";
import { killContainer as killWithHooks } from "../lifecycle/kill-container.js";
import { runPostStart } from "../lifecycle/post-start.js";
import { containerSpec, isRestartableInit, shouldContainerBeRestarted } from "./container-rules.js";
import { makeEnvironmentVariables } from "./env.js";
import type { ResourceList } from "./env-fieldpath.js";
import { ensureImageExists } from "./image-puller.js";
import { pullCredentials } from "./pull-secrets.js";
import { quantityBytes } from "./container-resources.js";
import { type ClusterDns, type ContainerKind, containerConfig, DEFAULT_POD_LOGS_DIR, podLogsDirectory, sandboxConfig } from "./runtime-config.js";
import { getPodStatus, latestContainer, type RuntimePodStatus } from "./runtime-pod-status.js";

/** What a sync did, for the pod worker to decide when to look again. */
export interface SyncOutcome {
  /** Something was created, started, or failed: look again soon (a PLEG relist would notice). */
  readonly changed: boolean;
  /** The earliest time a back-off ends (epoch ms), if one holds a container back. */
  readonly retryAt?: number;
  /** The runtime's view after the sync (for the status). */
  readonly status: RuntimePodStatus;
}

/** Dependencies of a {@link PodSyncer}. */
export interface PodSyncerOptions {
  readonly runtime: ContainerRuntime;
  readonly events: KubeletEvents;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Crash-loop back-off (per pod and container). */
  readonly crashBackoff: Backoff;
  /** Image pull back-off (per pod and image). */
  readonly imageBackoff: Backoff;
  readonly dns?: ClusterDns;
  /** Started containers: true unless a startup probe says otherwise. */
  readonly isStarted?: (pod: Pod, container: Container, containerId: string) => boolean;
  /**
   * Prepares pods' volumes and builds containers' mounts (/etc/hosts and
   * termination-message files included). Without it a container that
   * mounts a volume fails with CreateContainerConfigError.
   */
  readonly volumes?: VolumeManager;
  /** ConfigMaps, Secrets and Services for containers' environments; without it, references to them fail as upstream's client-less kubelet. */
  readonly objects?: PodObjects;
  /**
   * The pods' log root (kubelet option podLogsDir, /var/log/pods unless
   * given). When given, the kubelet also makes each pod's log directory
   * before its sandbox and deletes it once the pod is removed, as upstream.
   */
  readonly podLogsDir?: string;
  /** The node's IPs, primary first (env status.hostIP(s); the pod IPs of host-network pods). */
  readonly hostIPs?: () => readonly string[];
  /** The node's allocatable resources (resourceFieldRef of containers without limits). */
  readonly nodeAllocatable?: () => ResourceList;
  /** How soon a container whose configuration failed is tried again (10 s, upstream's pod worker back-off). */
  readonly configErrorRetryMs?: number;
  /** Runs postStart and preStop hooks; without it, containers start and stop with no hooks. */
  readonly hooks?: HookDeps;
}

/** `quiet`: the failure changed nothing in the runtime (no reason to look again soon). */
type StartResult = { ok: true } | { ok: false; why: ReasonEntry; retryAt?: number; quiet?: boolean };

interface StartSpec {
  readonly container: Container;
  readonly kind: ContainerKind;
}

/** The pod-level runtime operations of one node's kubelet. */
export class PodSyncer {
  constructor(private readonly o: PodSyncerOptions) {}

  /** The runtime's view of a pod (empty when the runtime cannot say; logged). */
  async status(uid: string): Promise<RuntimePodStatus> {
    const st = await getPodStatus(this.o.runtime, uid);
    if (st.ok) return st.value;
    this.o.logger.warn("could not read pod status from the runtime", { podUID: uid, err: formatRuntimeError(st.error) });
    return { uid, sandboxes: [], containers: [], ips: [] };
  }

  /**
   * One sync of a running (not terminating) pod. `reasons` (the pod's
   * start-failure cache) is updated in place.
   */
  async syncPod(pod: Pod, reasons: Map<string, ReasonEntry>): Promise<SyncOutcome> {
    const uid = pod.metadata?.uid ?? "";
    let status = await this.status(uid);
    let changed = false;
    let retryAt: number | undefined;
    const hostNetwork = pod.spec?.hostNetwork === true;

    // Step 0: volumes, before the sandbox (upstream's WaitForAttachAndMount in SyncPod).
    if (this.o.volumes) {
      const v = await this.o.volumes.mountPod(pod);
      for (const note of v.failures) this.o.events.emit(podRef(pod), "Warning", FAILED_MOUNT, note);
      if (!v.ready) return { changed: false, retryAt: v.retryAt, status };
    }

    // Step 1: a sandbox.
    const latest = status.sandboxes[0];
    const sandboxOk = !!latest && latest.state === "ready" && (hostNetwork || latest.ips.length > 0);
    let sandboxId = latest?.id;
    if (!sandboxOk) {
      const attempt = latest ? latest.metadata.attempt + 1 : 0;
      const restartOnFailure = (pod.spec?.restartPolicy ?? "Always") !== "Never";
      if (latest) {
        // A dead sandbox takes its containers with it, as upstream.
        this.o.events.emit(podRef(pod), "Normal", Reason.SandboxChanged, "Pod sandbox changed, it will be killed and re-created.");
        await this.killContainers(pod, status, 0, undefined);
        changed = true;
      }
      if (!restartOnFailure && attempt !== 0 && status.containers.length > 0) {
        // A Never pod whose containers ran gets no second sandbox: it is over.
        return { changed, status: await this.status(uid) };
      }
      if (this.o.podLogsDir !== undefined) {
        // upstream kuberuntime makes the pod's log directory before the sandbox.
        const dir = podLogsDirectory(this.o.podLogsDir, pod);
        await mkdir(dir, { recursive: true, mode: 0o755 }).catch((e) => this.o.logger.warn("could not create pod log directory", { pod: podKey(pod), path: dir, err: goError(e) }));
      }
      const created = await this.o.runtime.runPodSandbox(sandboxConfig(pod, attempt, this.o.dns, this.logsDir));
      if (!created.ok) {
        const message = `Failed to create pod sandbox: ${formatRuntimeError(created.error)}`;
        this.o.events.emit(podRef(pod), "Warning", Reason.FailedCreatePodSandBox, message);
        this.o.logger.warn("could not create pod sandbox", { pod: podKey(pod), err: message });
        return { changed: true, status };
      }
      sandboxId = created.value;
      changed = true;
      status = await this.status(uid);
    }

    // Step 2: what to start.
    const toStart = this.containersToStart(pod, status);
    for (const spec of toStart) {
      const r = await this.start(pod, status, sandboxId!, spec);
      if (r.ok || !r.quiet) changed = true;
      const name = spec.container.name;
      if (r.ok) reasons.delete(name);
      else {
        reasons.set(name, r.why);
        if (r.retryAt !== undefined) retryAt = retryAt === undefined ? r.retryAt : Math.min(retryAt, r.retryAt);
      }
    }
    // A container no longer in the spec (or gone from the plan) has nothing to explain.
    for (const name of [...reasons.keys()]) if (!toStart.some((s) => s.container.name === name)) reasons.delete(name);
    if (changed) status = await this.status(uid);
    return { changed, retryAt, status };
  }

  /** upstream computePodActions, the part about which containers to start now. */
  private containersToStart(pod: Pod, status: RuntimePodStatus): StartSpec[] {
    const out: StartSpec[] = [];
    const inits = pod.spec?.initContainers ?? [];
    const regularStarted = (pod.spec?.containers ?? []).some((c) => {
      const l = latestContainer(status, c.name);
      return !!l && l.state !== "created";
    });
    let initialized = true;
    for (const c of inits) {
      const l = latestContainer(status, c.name);
      if (isRestartableInit(c)) {
        if (l?.state !== "running") {
          if (!pod.metadata?.deletionTimestamp) out.push({ container: c, kind: "sidecar" });
          if (!regularStarted) {
            initialized = false;
            break;
          }
          continue;
        }
        if (!regularStarted && this.o.isStarted && !this.o.isStarted(pod, c, l.id)) {
          initialized = false;
          break;
        }
        continue;
      }
      if (regularStarted) continue; // Initialization happened before.
      if (!l) {
        out.push({ container: c, kind: "init" });
        initialized = false;
        break;
      }
      if (l.state === "running") {
        initialized = false;
        break;
      }
      if (l.state === "exited" && l.exitCode === 0) continue;
      // Failed (or never got going): retried unless the pod never restarts.
      if (shouldContainerBeRestarted(c, pod, status) || l.state === "created") out.push({ container: c, kind: "init" });
      initialized = false;
      break;
    }
    if (!initialized) return out;
    for (const c of pod.spec?.containers ?? []) {
      if (shouldContainerBeRestarted(c, pod, status)) out.push({ container: c, kind: "regular" });
    }
    return out;
  }

  /** upstream doBackOff + startContainer. */
  private async start(pod: Pod, status: RuntimePodStatus, sandboxId: string, spec: StartSpec): Promise<StartResult> {
    const { container, kind } = spec;
    const init = kind !== "regular";
    const ref = podRef(pod, { name: container.name, init });
    const latest = latestContainer(status, container.name);
    const m = pod.metadata ?? {};
    if (latest && latest.state === "exited") {
      const key = `${m.name}_${m.namespace}_${m.uid}_${container.name}`;
      const b = this.o.crashBackoff;
      if (b.isInBackOffSince(key, latest.finishedAt)) {
        this.o.events.emit(ref, "Warning", Reason.BackOff, `Back-off restarting failed container ${container.name} in pod ${formatPod(pod)}`);
        const message = `back-off ${goDuration(b.get(key))} restarting failed container=${container.name} pod=${formatPod(pod)}`;
        return { ok: false, why: { reason: "CrashLoopBackOff", message }, retryAt: latest.finishedAt + b.get(key) };
      }
      b.next(key, latest.finishedAt);
    }

    const credentials = await pullCredentials(pod, container.image ?? "", this.o.objects);
    const image = await ensureImageExists(this.o.runtime, this.o.imageBackoff, this.o.events, this.o.clock, pod, container, init, credentials);
    if (!image.ok) {
      // The action names the failure, so "Error: ErrImagePull" and "Error: ImagePullBackOff" stay separate series.
      this.o.events.emit(ref, "Warning", Reason.Failed, `Error: ${image.reason}`, image.reason);
      return { ok: false, why: { reason: image.reason, message: image.message }, retryAt: image.retryAt };
    }

    // upstream generateContainerConfig: environment, then mounts; either failing is CreateContainerConfigError.
    const hostIPs = this.o.hostIPs?.() ?? [];
    const podIPs = pod.spec?.hostNetwork ? hostIPs : status.ips;
    const env = await makeEnvironmentVariables(pod, container, {
      objects: this.o.objects,
      facts: { podIPs, hostIPs },
      nodeAllocatable: this.o.nodeAllocatable?.() ?? {},
      warn: (reason, note) => this.o.events.emit(podRef(pod), "Warning", reason, note),
    });
    if (!env.ok) return this.configError(ref, env.message);
    const mounts = this.o.volumes ? await this.o.volumes.containerMounts(pod, container, env.envs, podIPs) : mountsWithoutManager(pod, container);
    if (!mounts.ok) return this.configError(ref, mounts.message);

    const restartCount = latest ? latest.restartCount + 1 : 0;
    const sbConfig = sandboxConfig(pod, status.sandboxes[0]?.metadata.attempt ?? 0, this.o.dns, this.logsDir);
    const config = containerConfig(pod, container, kind, restartCount, {
      envs: env.envs,
      mounts: mounts.mounts,
      memoryCapacity: quantityBytes(this.o.nodeAllocatable?.().memory),
    });
    const created = await this.o.runtime.createContainer(sandboxId, config, sbConfig);
    if (!created.ok) {
      await this.removeTerminationFiles(pod.metadata?.uid ?? "", mounts.mounts);
      const msg = created.error.message;
      this.o.events.emit(ref, "Warning", Reason.Failed, `Error: ${msg}`, "CreateContainerError");
      return { ok: false, why: { reason: "CreateContainerError", message: msg } };
    }
    this.o.events.emit(ref, "Normal", Reason.Created, `Created container ${container.name}`);
    const started = await this.o.runtime.startContainer(created.value);
    if (!started.ok) {
      const msg = started.error.message;
      this.o.events.emit(ref, "Warning", Reason.Failed, `Error: ${msg}`, "RunContainerError");
      return { ok: false, why: { reason: "RunContainerError", message: msg } };
    }
    this.o.events.emit(ref, "Normal", Reason.Started, `Started container ${container.name}`);
    if (this.o.hooks) {
      const hook = await runPostStart(this.o.hooks, pod, container, created.value);
      if (!hook.ok) return { ok: false, why: { reason: hook.reason, message: hook.message } };
    }
    await this.pruneDead(status, container.name);
    return { ok: true };
  }

  private get logsDir(): string {
    return this.o.podLogsDir ?? DEFAULT_POD_LOGS_DIR;
  }

  /** upstream's CreateContainerConfigError: a Failed event and the waiting reason, retried after the pod worker's back-off. */
  private configError(ref: ReturnType<typeof podRef>, message: string): StartResult {
    this.o.events.emit(ref, "Warning", Reason.Failed, `Error: ${message}`, "CreateContainerConfigError");
    const retryAt = this.o.clock.now() + (this.o.configErrorRetryMs ?? 10_000);
    return { ok: false, why: { reason: "CreateContainerConfigError", message }, retryAt, quiet: true };
  }

  /** Deletes termination-message files among `mounts` (a container that will never run, or is removed). */
  private async removeTerminationFiles(uid: string, mounts: readonly Mount[]): Promise<void> {
    if (!this.o.volumes || !uid) return;
    const containers = join(podDir(this.o.volumes.rootDir, uid), "containers") + sep;
    for (const m of mounts) if (m.hostPath.startsWith(containers)) await rm(m.hostPath, { force: true }).catch(() => {});
  }

  /**
   * Keeps one dead instance per container (the last state), removing older
   * ones, as upstream's container GC with MaxPerPodContainer=1.
   */
  private async pruneDead(status: RuntimePodStatus, name: string): Promise<void> {
    let kept = 0;
    for (const c of status.containers) {
      if (c.name !== name || c.state === "running") continue;
      if (kept < 1) {
        kept++;
        continue;
      }
      await this.removeContainerFiles(c.id);
      await this.o.runtime.removeContainer(c.id);
    }
  }

  /** The termination-message file of a container about to be removed. */
  private async removeContainerFiles(id: string): Promise<void> {
    if (!this.o.volumes) return;
    const st = await this.o.runtime.containerStatus(id);
    if (st.ok) await this.removeTerminationFiles(st.value.labels[POD_UID_LABEL] ?? "", st.value.mounts);
  }

  /**
   * Stops every running container (app containers first, then sidecars in
   * reverse order, as upstream), then every sandbox. `graceSeconds` bounds
   * each stop; `message` overrides the Killing event text.
   */
  async killPod(pod: Pod, graceSeconds: number, message?: string): Promise<RuntimePodStatus> {
    const uid = pod.metadata?.uid ?? "";
    const status = await this.status(uid);
    await this.killContainers(pod, status, graceSeconds, message);
    for (const sb of status.sandboxes) {
      if (sb.state !== "ready") continue;
      const r = await this.o.runtime.stopPodSandbox(sb.id);
      if (!r.ok) this.o.logger.warn("could not stop pod sandbox", { pod: podKey(pod), err: formatRuntimeError(r.error) });
    }
    // Nothing runs in the pod again: its volumes go (upstream unmounts the volumes of terminated pods).
    if (this.o.volumes && !(await this.o.volumes.unmountPod(uid))) this.o.logger.warn("pod volumes not fully torn down yet", { pod: podKey(pod) });
    return this.status(uid);
  }

  private async killContainers(pod: Pod, status: RuntimePodStatus, graceSeconds: number, message: string | undefined): Promise<void> {
    const running = status.containers.filter((c) => c.state === "running" || c.state === "created");
    const sidecarNames = (pod.spec?.initContainers ?? []).filter(isRestartableInit).map((c) => c.name);
    const regular = running.filter((c) => !sidecarNames.includes(c.name));
    await Promise.all(regular.map((c) => this.killContainer(pod, c.id, c.name, graceSeconds, message)));
    for (const name of [...sidecarNames].reverse()) {
      for (const c of running) if (c.name === name) await this.killContainer(pod, c.id, c.name, graceSeconds, message);
    }
  }

  private async killContainer(pod: Pod, id: string, name: string, graceSeconds: number, message: string | undefined): Promise<void> {
    if (this.o.hooks) {
      // upstream's killContainer: preStop first, deducted from the grace period.
      const r = await killWithHooks(this.o.hooks, pod, name, containerSpec(pod, name)?.container, id, { message, gracePeriodOverride: graceSeconds });
      if (!r.ok) this.o.events.emit(podRef(pod), "Warning", Reason.FailedKillPod, `error killing pod: failed to "KillContainer" for "${name}" with KillContainerError: "${formatRuntimeError(r.error)}"`);
      return;
    }
    const init = (pod.spec?.initContainers ?? []).some((c) => c.name === name);
    this.o.events.emit(podRef(pod, { name, init }), "Normal", Reason.Killing, message ?? `Stopping container ${name}`);
    const r = await this.o.runtime.stopContainer(id, Math.max(graceSeconds, 0));
    if (!r.ok && r.error.code !== "NotFound") {
      this.o.events.emit(podRef(pod), "Warning", Reason.FailedKillPod, `error killing pod: failed to "KillContainer" for "${name}" with KillContainerError: "${formatRuntimeError(r.error)}"`);
    }
  }

  /**
   * Removes every sandbox and container of the pod (after it is gone from
   * the API), then its volumes and kubelet files, and its log directory
   * when the kubelet manages those.
   */
  async removePod(uid: string): Promise<void> {
    const status = await this.status(uid);
    for (const c of status.containers) {
      if (c.state === "running") await this.o.runtime.stopContainer(c.id, 0);
      await this.o.runtime.removeContainer(c.id);
    }
    for (const sb of status.sandboxes) {
      await this.o.runtime.stopPodSandbox(sb.id);
      await this.o.runtime.removePodSandbox(sb.id);
    }
    if (this.o.volumes && !(await this.o.volumes.removePod(uid))) this.o.logger.warn("pod directory not fully removed yet", { podUID: uid });
    if (this.o.podLogsDir !== undefined) await this.removeLogDirs(this.o.podLogsDir, uid);
  }

  /** Deletes `<podLogsDir>/<ns>_<name>_<uid>` (found by its UID suffix: the pod object is gone). */
  private async removeLogDirs(root: string, uid: string): Promise<void> {
    if (!uid || uid.includes("/")) return;
    let names: string[];
    try {
      names = await readdir(root);
    } catch {
      return;
    }
    for (const n of names) {
      if (!n.endsWith(`_${uid}`)) continue;
      await rm(join(root, n), { recursive: true, force: true }).catch((e) => this.o.logger.warn("could not remove pod log directory", { path: join(root, n), err: goError(e) }));
    }
  }
}

/** `ns/name` for logs. */
export function podKey(pod: Pod): string {
  return `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
}
