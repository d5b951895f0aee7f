/**
 * The kubelet's volume manager: prepares every volume of a pod on the host
 * before its sandbox starts (upstream's WaitForAttachAndMount, done inline
 * by the pod's worker rather than by a separate reconciler), keeps
 * API-backed volumes (configMap, secret, projected, downwardAPI) current
 * on every later sync, builds containers' mounts, and tears everything
 * down when the pod ends.
 *
 * Failed mounts are retried with upstream's exponential back-off (500 ms
 * doubling to 2m2s, per volume); each attempt's failure is handed back as
 * a FailedMount event note worded as upstream's:
 * `MountVolume.SetUp failed for volume "cfg" : configmap "missing" not found`.
 * A volume that mounted once is not taken away by a later failed refresh
 * (its old files stay, as upstream).
 *
 * Calls for one pod must not overlap (the pod worker serialises them).
 */
import { readdir, rm } from "node:fs/promises";
import type { Container, Pod, Volume } from "kubernetes-types/core/v1.js";
import type { Clock } from "../../machinery/clock.js";
import type { Logger } from "../../machinery/log.js";
import type { KeyValue, Mount } from "../../runtime/types.js";
import type { ResourceList } from "../pod/env-fieldpath.js";
import { setUpClaim } from "./claim.js";
import { setUpConfigMap, setUpSecret } from "./configmap-secret.js";
import { setUpDownwardAPI } from "./downward-api.js";
import { setUpEmptyDir } from "./empty-dir.js";
import { goError } from "./go-errors.js";
import { setUpHostPath } from "./host-path.js";
import { makeMounts, type MountsResult, terminationMessageMount } from "./make-mounts.js";
import type { Mounter } from "./mounter.js";
import type { PodObjects } from "./objects.js";
import { isSafeSegment, podDir, podsDir, podSubpathsDir, podVolumesDir } from "./paths.js";
import type { PluginContext, SetUpResult, SetUpVolume } from "./plugin.js";
import { setUpProjected } from "./projected.js";
import { TokenManager } from "./token-manager.js";

/** Upstream's event reason for mount failures. */
export const FAILED_MOUNT = "FailedMount";

/** Options of a {@link VolumeManager}. */
export interface VolumeManagerOptions {
  /** The kubelet root directory (upstream --root-dir, /var/lib/kubelet); pods' files go under `pods/`. */
  readonly rootDir: string;
  /** The kernel's mount table ({@link SystemMounter}), or a simulated one for simulated nodes. */
  readonly mounter: Mounter;
  /** ConfigMaps, Secrets, claims and tokens; without it, volumes that need them fail to mount. */
  readonly objects?: PodObjects;
  /** Time for back-offs; wall-clock time for file names and token ages. */
  readonly clock: Clock;
  readonly logger: Logger;
  /** The node's allocatable resources (memory-backed volume sizes, downward API resource values). */
  readonly nodeAllocatable?: () => ResourceList;
  /** The cluster's DNS domain, for /etc/hosts of pods with a subdomain ("cluster.local"). */
  readonly clusterDomain?: string;
  /** First retry delay of a failed mount (500 ms, upstream's initialDurationBeforeRetry). */
  readonly retryInitialMs?: number;
  /** Cap of the retry delay (2m2s, upstream's maxDurationBeforeRetry). */
  readonly retryMaxMs?: number;
}

/** What {@link VolumeManager.mountPod} achieved. */
export interface PodVolumesOutcome {
  /** Every volume is prepared: containers may start. */
  readonly ready: boolean;
  /** FailedMount event notes of the attempts this call made (none for volumes still backing off). */
  readonly failures: readonly string[];
  /** When a volume that failed may be tried again (epoch ms). */
  readonly retryAt?: number;
}

interface Retry {
  delayMs: number;
  nextAt: number;
}

interface PodState {
  readonly volumes: Map<string, SetUpVolume>;
  readonly retries: Map<string, Retry>;
}

/** The volume kinds skiff prepares. */
const SUPPORTED = ["emptyDir", "configMap", "secret", "projected", "downwardAPI", "hostPath", "persistentVolumeClaim", "ephemeral"];

/** The pod's volumes, by name. */
export class VolumeManager {
  private readonly pods = new Map<string, PodState>();
  private readonly tokens: TokenManager;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;

  constructor(private readonly o: VolumeManagerOptions) {
    this.tokens = new TokenManager(o.objects, () => o.clock.now());
    this.retryInitialMs = o.retryInitialMs ?? 500;
    this.retryMaxMs = o.retryMaxMs ?? 122_000;
  }

  /** The kubelet root directory. */
  get rootDir(): string {
    return this.o.rootDir;
  }

  /**
   * Prepares (or refreshes) every volume of `pod`. Ready once each volume
   * mounted at least once; failures of this call come back as event notes.
   */
  async mountPod(pod: Pod): Promise<PodVolumesOutcome> {
    const uid = pod.metadata?.uid ?? "";
    if (!isSafeSegment(uid)) return { ready: false, failures: [`Unable to attach or mount volumes: invalid pod UID "${uid}"`] };
    let state = this.pods.get(uid);
    if (!state) {
      state = { volumes: new Map(), retries: new Map() };
      this.pods.set(uid, state);
    }
    const now = this.o.clock.now();
    const ctx = this.context(pod);
    const failures: string[] = [];
    const unprocessed: { name: string; message: string }[] = [];
    let retryAt: number | undefined;
    const volumes = pod.spec?.volumes ?? [];
    for (const v of volumes) {
      const mounted = state.volumes.get(v.name);
      if (mounted && !mounted.remount) continue;
      const retry = state.retries.get(v.name);
      if (retry && now < retry.nextAt) {
        retryAt = Math.min(retryAt ?? Infinity, retry.nextAt);
        continue;
      }
      const r = await this.setUp(ctx, v);
      if (r.ok) {
        state.volumes.set(v.name, r.volume);
        state.retries.delete(v.name);
        continue;
      }
      const next = retry ? Math.min(retry.delayMs * 2, this.retryMaxMs) : this.retryInitialMs;
      state.retries.set(v.name, { delayMs: next, nextAt: now + next });
      retryAt = Math.min(retryAt ?? Infinity, now + next);
      if (r.stage === "process") unprocessed.push({ name: v.name, message: r.message });
      else failures.push(`MountVolume.SetUp failed for volume "${r.displayName ?? v.name}" : ${r.message}`);
      this.o.logger.warn("volume not prepared", { pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, volume: v.name, err: r.message });
    }
    // Volumes gone from the spec (the spec cannot change them, but a restarted kubelet may know stale ones).
    for (const name of state.volumes.keys()) if (!volumes.some((v) => v.name === name)) state.volumes.delete(name);
    if (unprocessed.length > 0) {
      const unmounted = volumes.filter((v) => !state.volumes.has(v.name)).map((v) => v.name).sort();
      failures.push(
        `Unable to attach or mount volumes: unmounted volumes=[${unmounted.join(" ")}], unattached volumes=[], failed to process volumes=[${unprocessed
          .map((u) => u.name)
          .sort()
          .join(" ")}]: ${unprocessed.map((u) => u.message).join("; ")}`,
      );
    }
    const ready = volumes.every((v) => state.volumes.has(v.name));
    return { ready, failures, ...(retryAt !== undefined && !ready ? { retryAt } : {}) };
  }

  /** The prepared volumes of pod `uid`, by name. */
  mountedVolumes(uid: string): ReadonlyMap<string, SetUpVolume> {
    return this.pods.get(uid)?.volumes ?? new Map();
  }

  /** The mounts of `container` (volumeMounts, /etc/hosts, termination message). */
  async containerMounts(pod: Pod, container: Container, envs: readonly KeyValue[], podIPs: readonly string[]): Promise<MountsResult> {
    const uid = pod.metadata?.uid ?? "";
    const r = await makeMounts({
      pod,
      container,
      envs,
      podIPs,
      volumes: this.mountedVolumes(uid),
      rootDir: this.o.rootDir,
      mounter: this.o.mounter,
      logger: this.o.logger,
      clusterDomain: this.o.clusterDomain ?? "cluster.local",
    });
    if (!r.ok) return r;
    const t = await terminationMessageMount(this.o.rootDir, pod, container, this.o.logger);
    return t ? { ok: true, mounts: [...r.mounts, t] } : r;
  }

  /**
   * Unmounts and deletes the pod's volumes and subPath mounts (the pod will
   * run nothing again); its termination messages and hosts file stay until
   * {@link removePod}. True when everything is gone.
   */
  async unmountPod(uid: string): Promise<boolean> {
    if (!isSafeSegment(uid)) return false;
    this.tokens.deletePod(uid);
    const subpaths = await this.unmountAndRemove(podSubpathsDir(this.o.rootDir, uid));
    const volumes = await this.unmountAndRemove(podVolumesDir(this.o.rootDir, uid));
    const state = this.pods.get(uid);
    if (state) {
      state.volumes.clear();
      state.retries.clear();
    }
    return subpaths && volumes;
  }

  /** Removes everything the kubelet keeps for pod `uid` (after it left the node). True when it is all gone. */
  async removePod(uid: string): Promise<boolean> {
    if (!isSafeSegment(uid)) return false;
    const unmounted = await this.unmountPod(uid);
    this.pods.delete(uid);
    if (!unmounted) return false;
    return this.unmountAndRemove(podDir(this.o.rootDir, uid));
  }

  /**
   * Removes the directories of pods not in `active` (upstream's
   * cleanupOrphanedPodDirs): call it only once the pod source has synced,
   * or a restarted kubelet would delete volumes of pods it has not seen yet.
   */
  async cleanupOrphans(active: ReadonlySet<string>): Promise<void> {
    let uids: string[];
    try {
      uids = await readdir(podsDir(this.o.rootDir));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      this.o.logger.warn("could not list pod directories", { err: goError(e) });
      return;
    }
    for (const uid of uids) {
      if (active.has(uid)) continue;
      if (!(await this.removePod(uid))) this.o.logger.warn("orphaned pod directory not removed yet", { podUID: uid });
    }
  }

  private context(pod: Pod): PluginContext {
    return {
      pod,
      rootDir: this.o.rootDir,
      mounter: this.o.mounter,
      objects: this.o.objects,
      nodeAllocatable: this.o.nodeAllocatable?.() ?? {},
      tokens: this.tokens,
      logger: this.o.logger,
      now: () => this.o.clock.now(),
    };
  }

  private async setUp(ctx: PluginContext, v: Volume): Promise<SetUpResult> {
    if (!isSafeSegment(v.name)) return { ok: false, message: `invalid volume name "${v.name}"` };
    try {
      if (v.emptyDir) return await setUpEmptyDir(ctx, v.name, v.emptyDir);
      if (v.configMap) return await setUpConfigMap(ctx, v.name, v.configMap);
      if (v.secret) return await setUpSecret(ctx, v.name, v.secret);
      if (v.projected) return await setUpProjected(ctx, v.name, v.projected);
      if (v.downwardAPI) return await setUpDownwardAPI(ctx, v.name, v.downwardAPI);
      if (v.hostPath) return await setUpHostPath(v.hostPath);
      if (v.persistentVolumeClaim || v.ephemeral) return await setUpClaim(ctx, v);
    } catch (e) {
      // Plugins return expected failures as values; a throw is a filesystem surprise, still shown to the user.
      return { ok: false, message: goError(e) };
    }
    const kinds = Object.keys(v).filter((k) => k !== "name" && (v as unknown as Record<string, unknown>)[k] != null);
    return { ok: false, message: `skiff does not support ${kinds.join(", ") || "empty"} volumes (supported: ${SUPPORTED.join(", ")})` };
  }

  /** Unmounts everything under `dir` (deepest first), then deletes it; never deletes through a mount. */
  private async unmountAndRemove(dir: string): Promise<boolean> {
    const log = this.o.logger;
    for (let round = 0; round < 4; round++) {
      const points = await this.o.mounter.mountPointsUnder(dir);
      if (points.length === 0) break;
      for (const p of points) {
        const r = await this.o.mounter.unmount(p);
        if (!r.ok) log.warn("could not unmount", { path: p, err: r.message });
      }
    }
    const left = await this.o.mounter.mountPointsUnder(dir);
    if (left.length > 0) {
      log.warn("mounts remain; directory kept", { path: dir, mounts: left.join(",") });
      return false;
    }
    try {
      await rm(dir, { recursive: true, force: true });
      return true;
    } catch (e) {
      log.warn("could not remove directory", { path: dir, err: goError(e) });
      return false;
    }
  }
}

/**
 * The mounts of a container on a node without a volume manager (simulated
 * nodes, whose containers never read files, as KWOK's): nothing is mounted,
 * but a mount naming no volume of the pod fails as upstream's does.
 */
export function mountsWithoutManager(pod: Pod, container: Container): MountsResult {
  const names = new Set((pod.spec?.volumes ?? []).map((v) => v.name));
  const m = container.volumeMounts?.find((vm) => !names.has(vm.name));
  if (m) return { ok: false, message: `cannot find volume "${m.name}" to mount into container "${container.name}"` };
  return { ok: true, mounts: [] as Mount[] };
}
