/**
 * hostPath volumes (upstream pkg/volume/hostpath): the node's own path,
 * bound as is, checked against its `type` first with upstream's messages
 * (DirectoryOrCreate and FileOrCreate create it).
 */
import type { HostPathVolumeSource } from "kubernetes-types/core/v1.js";
import { type Stats, constants } from "node:fs";
import { mkdir, open, stat } from "node:fs/promises";
import { goError } from "./go-errors.js";
import { type SetUpResult, setUpFailed } from "./plugin.js";

/** upstream ValidatePathNoBacksteps: the message when a path steps out with `..`. */
export function validatePathNoBacksteps(p: string): string | undefined {
  return p.split("/").includes("..") ? "must not contain '..'" : undefined;
}

async function statOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await stat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/** upstream checkTypeInternal: undefined when `path` is of `type` (creating it where the type says so). */
export async function checkHostPathType(path: string, type: string): Promise<string | undefined> {
  try {
    const st = await statOrUndefined(path);
    if (type === "DirectoryOrCreate" && !st) {
      await mkdir(path, { recursive: true, mode: 0o755 });
      return undefined;
    }
    if (type === "FileOrCreate" && !st) {
      // As upstream's makeFile: O_CREATE only, the parent must exist.
      const fh = await open(path, constants.O_CREAT | constants.O_RDONLY, 0o644);
      await fh.close();
      return undefined;
    }
    switch (type) {
      case "DirectoryOrCreate":
      case "Directory":
        return st?.isDirectory() ? undefined : `hostPath type check failed: ${path} is not a directory`;
      case "FileOrCreate":
      case "File":
        return st?.isFile() ? undefined : `hostPath type check failed: ${path} is not a file`;
      case "Socket":
        return st?.isSocket() ? undefined : `hostPath type check failed: ${path} is not a socket file`;
      case "CharDevice":
        return st?.isCharacterDevice() ? undefined : `hostPath type check failed: ${path} is not a character device`;
      case "BlockDevice":
        return st?.isBlockDevice() ? undefined : `hostPath type check failed: ${path} is not a block device`;
      default:
        return `${type} is an invalid volume type`;
    }
  } catch (e) {
    return goError(e);
  }
}

/** upstream hostPathMounter.SetUp: the path checked; `readOnly` from a PersistentVolume's claim. */
export async function setUpHostPath(source: HostPathVolumeSource, readOnly = false, displayName?: string): Promise<SetUpResult> {
  const back = validatePathNoBacksteps(source.path);
  if (back) return setUpFailed(`invalid HostPath \`${source.path}\`: ${back}`, displayName);
  const type = source.type ?? "";
  if (type !== "") {
    const bad = await checkHostPathType(source.path, type);
    if (bad) return setUpFailed(bad, displayName);
  }
  return { ok: true, volume: { path: source.path, readOnly, remount: false, ...(displayName ? { displayName } : {}) } };
}
