/**
 * emptyDir volumes (upstream pkg/volume/emptydir): a directory on the
 * node's disk, or with `medium: Memory` a tmpfs sized as upstream's
 * SizeMemoryBackedVolumes computes it (the smallest of node allocatable
 * memory, the pod's memory limit and the volume's sizeLimit). The same
 * code backs configMap (disk), secret, projected and downwardAPI (memory)
 * volumes, as upstream's wrapped emptyDir.
 */
import type { Container, EmptyDirVolumeSource, Pod } from "kubernetes-types/core/v1.js";
import { chmod, lstat, mkdir } from "node:fs/promises";
import { quantityValue, type ResourceList } from "../pod/env-fieldpath.js";
import { goError } from "./go-errors.js";
import { setVolumeOwnership } from "./ownership.js";
import { type ManagedPlugin, podVolumeDir } from "./paths.js";
import { type PluginContext, type SetUpResult, setUpFailed } from "./plugin.js";

/** The permission bits of an emptyDir directory (upstream's perm, 0777). */
const PERM = 0o777;

/** upstream setupDir: the directory, with 0777 whatever the umask. */
async function setupDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PERM });
  const st = await lstat(dir);
  if ((st.mode & 0o777) !== PERM) await chmod(dir, PERM);
}

const memoryLimit = (c: Container): bigint | undefined => {
  const q = (c.resources?.limits as ResourceList | undefined)?.memory;
  return q === undefined ? undefined : quantityValue(q);
};

/**
 * The pod's memory limit as its cgroup gets it (upstream ResourceConfigForPod
 * over PodLimits): only when every container declares one; regular and
 * sidecar containers add up, init containers take the maximum.
 */
export function podMemoryLimit(pod: Pod): bigint | undefined {
  const all = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  if (all.length === 0 || all.some((c) => !memoryLimit(c))) return undefined;
  let limits = 0n;
  for (const c of pod.spec?.containers ?? []) limits += memoryLimit(c)!;
  let sidecars = 0n;
  let initMax = 0n;
  for (const c of pod.spec?.initContainers ?? []) {
    const l = memoryLimit(c)!;
    let effective: bigint;
    if (c.restartPolicy === "Always") {
      limits += l;
      sidecars += l;
      effective = sidecars;
    } else effective = l + sidecars;
    if (effective > initMax) initMax = effective;
  }
  return limits > initMax ? limits : initMax;
}

/** upstream calculateEmptyDirMemorySize; undefined leaves tmpfs' default (half of RAM). */
export function emptyDirMemorySize(pod: Pod, nodeAllocatable: ResourceList, sizeLimit: string | number | undefined): bigint | undefined {
  let size = nodeAllocatable.memory !== undefined ? quantityValue(nodeAllocatable.memory) : undefined;
  const fits = (v: bigint | undefined): v is bigint => v !== undefined && v > 0n && (size === undefined || v <= size);
  const pl = podMemoryLimit(pod);
  if (fits(pl)) size = pl;
  const vl = sizeLimit === undefined ? undefined : quantityValue(sizeLimit);
  if (fits(vl)) size = vl;
  return size !== undefined && size > 0n ? size : undefined;
}

/**
 * Prepares an emptyDir-backed directory for volume `name` under `plugin`'s
 * directory: disk (medium "") or tmpfs (medium "Memory"). Idempotent: an
 * existing tmpfs is kept.
 */
export async function setUpEmptyDirAt(ctx: PluginContext, plugin: ManagedPlugin, name: string, source: EmptyDirVolumeSource): Promise<SetUpResult> {
  const uid = ctx.pod.metadata?.uid ?? "";
  const dir = podVolumeDir(ctx.rootDir, uid, plugin, name);
  const medium = source.medium ?? "";
  try {
    if (medium === "") {
      await setupDir(dir);
    } else if (medium === "Memory") {
      const mounted = (await ctx.mounter.mountPointsUnder(dir)).includes(dir);
      if (!mounted) {
        await setupDir(dir);
        const r = await ctx.mounter.mountTmpfs(dir, emptyDirMemorySize(ctx.pod, ctx.nodeAllocatable, source.sizeLimit));
        if (!r.ok) return setUpFailed(r.message);
      }
    } else if (medium.startsWith("HugePages")) {
      return setUpFailed(`skiff does not support emptyDir medium "${medium}" (supported: "" and "Memory")`);
    } else {
      return setUpFailed(`unknown storage medium "${medium}"`);
    }
  } catch (e) {
    return setUpFailed(goError(e));
  }
  return { ok: true, volume: { path: dir, readOnly: false, remount: false } };
}

/** An emptyDir volume: the directory, then the pod's fsGroup on it. */
export async function setUpEmptyDir(ctx: PluginContext, name: string, source: EmptyDirVolumeSource): Promise<SetUpResult> {
  const r = await setUpEmptyDirAt(ctx, "emptyDir", name, source);
  if (!r.ok) return r;
  const sc = ctx.pod.spec?.securityContext;
  try {
    await setVolumeOwnership(r.volume.path, sc?.fsGroup, false, sc?.fsGroupChangePolicy);
  } catch (e) {
    return setUpFailed(goError(e));
  }
  return r;
}
