/**
 * Safe subPath mounts (upstream pkg/volume/util/subpath, Linux): a
 * container must not escape its volume through a subPath, neither with
 * `..` nor with symlinks — including symlinks the container itself swaps
 * in between the kubelet's check and the runtime's mount. So, as upstream:
 * the path is resolved once, checked to lie within the volume, opened
 * component by component refusing symlinks (O_NOFOLLOW), and the open
 * descriptor (`/proc/PID/fd/N`) is bind-mounted at
 * `pods/<uid>/volume-subpaths/<volume>/<container>/<index>`; containers
 * bind that, which no later rename inside the volume can redirect.
 */
import { constants, type Stats } from "node:fs";
import { chmod, mkdir, open, realpath, rm, stat, writeFile, type FileHandle } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import type { Logger } from "../../machinery/log.js";
import { goError } from "./go-errors.js";
import { validatePathNoBacksteps } from "./host-path.js";
import type { Mounter } from "./mounter.js";
import { podSubpathsDir } from "./paths.js";

/** Linux O_PATH (not in Node's constants): a handle for the path itself, usable for fstat and as a /proc/self/fd base. */
const O_PATH = 0o10000000;
const OPEN_FLAGS = O_PATH | constants.O_NOFOLLOW;

/** One subPath to prepare. */
export interface Subpath {
  readonly rootDir: string;
  readonly podUid: string;
  readonly volumeName: string;
  readonly containerName: string;
  readonly volumeMountIndex: number;
  /** The volume's host path. */
  readonly volumePath: string;
  /** The subPath (already expanded from subPathExpr). */
  readonly subPath: string;
}

/** The host path to bind, or the message for the container's CreateContainerConfigError. */
export type SubpathResult = { readonly ok: true; readonly hostPath: string } | { readonly ok: false; readonly message: string };

/** upstream PathWithinBase. */
function pathWithinBase(full: string, base: string): boolean {
  const rel = relative(base, full);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !rel.startsWith(sep));
}

/**
 * Opens `rel` under the directory `base` one component at a time, refusing
 * symlinks; returns the handle of the last component (the caller closes it).
 * `create` makes missing directories with `perm` (upstream doSafeMakeDir).
 */
async function safeOpen(base: string, rel: string, create?: { perm: number }): Promise<FileHandle> {
  let parent = await open(base, OPEN_FLAGS);
  try {
    const st = await parent.stat();
    if (!st.isDirectory()) throw new Error(`${base} is not a directory`);
    for (const seg of rel.split(sep).filter((s) => s !== "" && s !== ".")) {
      const at = `/proc/self/fd/${parent.fd}/${seg}`;
      let child: FileHandle;
      try {
        child = await open(at, OPEN_FLAGS);
      } catch (e) {
        if (!create || (e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
        await mkdir(at, { mode: create.perm });
        child = await open(at, OPEN_FLAGS);
        await chmod(`/proc/self/fd/${child.fd}`, create.perm);
      }
      const cst: Stats = await child.stat();
      if (cst.isSymbolicLink()) {
        await child.close();
        throw new Error(`unexpected symlink found ${join(base, rel)}`);
      }
      await parent.close();
      parent = child;
    }
    return parent;
  } catch (e) {
    await parent.close().catch(() => {});
    throw e;
  }
}

/**
 * upstream makeMounts' subPath part: the checks users see, then the safe
 * bind. Details of filesystem failures go to the log, not to the user, as
 * upstream (they could reveal the host's layout).
 */
export async function prepareSubpath(sp: Subpath, mounter: Mounter, logger: Logger): Promise<SubpathResult> {
  const { subPath, volumeName: vol, containerName: c } = sp;
  if (subPath.startsWith("/")) return { ok: false, message: `error SubPath \`${subPath}\` must not be an absolute path` };
  const back = validatePathNoBacksteps(subPath);
  if (back) return { ok: false, message: `unable to provision SubPath \`${subPath}\`: ${back}` };

  const log = (msg: string, e: unknown) => logger.warn(msg, { podUID: sp.podUid, container: c, volumeMount: vol, err: goError(e) });
  // A missing subPath is made now as a directory with the volume's mode, so its ownership and mode are right.
  try {
    await stat(join(sp.volumePath, subPath));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") log("could not determine if subPath exists", e);
    else {
      try {
        const perm = (await stat(sp.volumePath)).mode & 0o7777;
        const base = await realpath(sp.volumePath);
        await (await safeOpen(base, subPath, { perm })).close();
      } catch (e2) {
        log("failed to create subPath directory", e2);
        return { ok: false, message: `failed to create subPath directory for volumeMount "${vol}" of container "${c}"` };
      }
    }
  }

  const fail = (e: unknown): SubpathResult => {
    log("failed to prepare subPath", e);
    return { ok: false, message: `failed to prepare subPath for volumeMount "${vol}" of container "${c}"` };
  };
  let volumePath: string;
  let path: string;
  try {
    volumePath = await realpath(sp.volumePath);
    path = await realpath(join(sp.volumePath, subPath));
  } catch (e) {
    return fail(e);
  }
  if (!pathWithinBase(path, volumePath)) return fail(new Error(`subpath "${path}" not within volume path "${volumePath}"`));

  const target = join(podSubpathsDir(sp.rootDir, sp.podUid), vol, c, String(sp.volumeMountIndex));
  let fh: FileHandle | undefined;
  try {
    // Already bound (a restart of the container): keep it, as upstream.
    const mounted = await mounter.mountPointsUnder(target);
    if (mounted.includes(target)) return { ok: true, hostPath: target };
    if (mounted.length > 0) return fail(new Error(`${target} has mounts below it: ${mounted.join(", ")}`));
    fh = await safeOpen(volumePath, relative(volumePath, path));
    const st = await fh.stat();
    await mkdir(join(target, ".."), { recursive: true, mode: 0o750 });
    await rm(target, { recursive: true, force: true });
    if (st.isDirectory()) await mkdir(target, { mode: 0o750 });
    else await writeFile(target, "", { mode: 0o640 });
    const r = await mounter.bindMount(`/proc/${process.pid}/fd/${fh.fd}`, target);
    if (!r.ok) return fail(new Error(r.message));
    return { ok: true, hostPath: target };
  } catch (e) {
    return fail(e);
  } finally {
    await fh?.close().catch(() => {});
  }
}
