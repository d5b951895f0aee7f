/**
 * Liveness checks on host processes the runtime did not start itself
 * (conmon daemons, container init processes), by pid.
 */
import { readFileSync } from "node:fs";

/** Whether a process with `pid` exists (and is not a zombie). */
export function isAlive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 3 (after the parenthesised comm) is the state; Z is a zombie awaiting its parent.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** The pid in `pidFile` when it names a live process whose command is `comm`, else undefined. */
export function livePidFromFile(pidFile: string, comm: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, "utf8").trim());
  } catch {
    return undefined;
  }
  if (!isAlive(pid)) return undefined;
  try {
    // Guards against pid reuse after a reboot or a long time.
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === comm ? pid : undefined;
  } catch {
    return undefined;
  }
}
