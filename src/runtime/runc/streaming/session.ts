/**
 * Ending an exec'd process together with everything it started. runc makes
 * each exec'd process a session leader (setsid), so its session is the
 * process plus its pipelines and background jobs, unless one of them
 * deliberately left with its own `setsid`. Killing the session rather than
 * the pid keeps a timed-out probe or a closed `kubectl exec` from leaving
 * `sleep`s behind in the container.
 */
import { readdir, readFile } from "node:fs/promises";

/** `state ppid pgrp session …`: the fields after the parenthesised command of /proc/PID/stat. */
async function statFields(pid: number): Promise<string[] | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** Whether `pid` is alive and leads its own session (still the process runc exec'd, not a reused pid). */
export async function isSessionLeader(pid: number): Promise<boolean> {
  const f = await statFields(pid);
  return f !== undefined && f[0] !== "Z" && Number(f[3]) === pid;
}

/** Live (not zombie) processes whose session is `sid`. */
async function sessionMembers(sid: number): Promise<number[]> {
  const members: number[] = [];
  for (const name of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const f = await statFields(Number(name));
    if (f !== undefined && f[0] !== "Z" && Number(f[3]) === sid) members.push(Number(name));
  }
  return members;
}

/** After close() killed the session, how long runc may take to notice before it is killed too. */
export const CLOSE_GRACE_MS = 5000;

/** Bound on kill rounds; each round only meets processes forked before the previous one's kills. */
const MAX_KILL_ROUNDS = 50;

/**
 * SIGKILLs every process of the session `sid` (host pids), the leader
 * first so it forks no more, then members in rounds until none is left:
 * a member may be forking while the previous round scanned /proc.
 *
 * Safe against pid reuse: the kernel does not hand out a pid number while
 * any process still has it as its session id, so every process found with
 * session `sid` belongs to the exec'd process's session. The caller only
 * makes sure `sid` was that session (runc's pid file).
 */
export async function killSession(sid: number): Promise<void> {
  if (await isSessionLeader(sid)) kill(sid);
  for (let round = 0; round < MAX_KILL_ROUNDS; round++) {
    const members = await sessionMembers(sid);
    if (members.length === 0) return;
    for (const pid of members) kill(pid);
  }
}

function kill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}
