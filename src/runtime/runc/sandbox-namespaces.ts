/**
 * Pod namespaces without a pause process, as CRI-O's pinns does: util-linux
 * `unshare --ipc=FILE --uts=FILE` creates the namespaces and bind-mounts
 * them onto files in the sandbox directory, which keeps them alive after
 * the short-lived command exits. Containers join them by path; unmounting
 * the files releases them once no container is left inside. The same
 * command sets the pod's hostname and mounts its /dev/shm tmpfs (still in
 * the host's mount namespace), so a sandbox costs one process start here.
 */
import { writeFileSync } from "node:fs";
import { fail, ok, type RuntimeResult } from "../types.js";
import { unmount } from "./mounts.js";
import { describeFailure, runCommand } from "./run-command.js";

/** What to create for one sandbox. */
export interface PinRequest {
  readonly ipcPath: string;
  /** Absent: no UTS namespace (host-network pods keep the node's, hostname included). */
  readonly utsPath?: string;
  readonly hostname: string;
  /** The pod's /dev/shm: an existing directory and the tmpfs options. */
  readonly shmPath: string;
  readonly shmOptions: string;
}

/** Creates and pins the pod's IPC (and UTS) namespaces, sets the hostname, mounts the shm tmpfs. */
export async function pinNamespaces(req: PinRequest): Promise<RuntimeResult<void>> {
  // Bind mounts need existing targets.
  writeFileSync(req.ipcPath, "");
  const args = [`--ipc=${req.ipcPath}`];
  if (req.utsPath) {
    writeFileSync(req.utsPath, "");
    args.push(`--uts=${req.utsPath}`);
  }
  // Runs inside the new namespaces: the hostname written here is the pod's UTS namespace's.
  let script = 'mount -t tmpfs -o "$3" shm "$2"';
  if (req.utsPath) script = `printf %s "$1" > /proc/sys/kernel/hostname && ${script}`;
  const r = await runCommand("unshare", [...args, "/bin/sh", "-c", script, "sh", req.hostname, req.shmPath, req.shmOptions]);
  if (r.code !== 0) {
    await releaseNamespaces(req);
    return fail("Unknown", describeFailure("failed to create the pod's namespaces", r));
  }
  return ok(undefined);
}

/** Unmounts the shm tmpfs and the pinned namespaces; succeeds when nothing is there. */
export async function releaseNamespaces(req: Pick<PinRequest, "ipcPath" | "utsPath" | "shmPath">): Promise<RuntimeResult<void>> {
  for (const p of [req.shmPath, req.ipcPath, req.utsPath]) {
    if (!p) continue;
    const r = await unmount(p);
    if (!r.ok) return r;
  }
  return ok(undefined);
}
