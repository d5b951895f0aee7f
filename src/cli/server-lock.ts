/**
 * One server per data dir: `<data-dir>/server.pid` names the running server,
 * so a second server, or an offline restore, can refuse with a clear reason.
 * A standalone `skiff agent` names itself in `<data-dir>/agent/agent.pid`
 * the same way, so `skiff uninstall` knows not to pull its node away.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { processExists } from "../machinery/process-exists.js";

type Role = "server" | "agent";

function pidFile(dataDir: string, role: Role = "server"): string {
  return role === "server" ? join(dataDir, "server.pid") : join(dataDir, "agent", "agent.pid");
}


/** The PID of a live server using `dataDir`, if there is one. */
export function runningServerPid(dataDir: string): number | undefined {
  return runningPid(dataDir, "server");
}

/** The PID of a live standalone `skiff agent` using `dataDir`, if there is one. */
export function runningAgentPid(dataDir: string): number | undefined {
  return runningPid(dataDir, "agent");
}

function runningPid(dataDir: string, role: Role): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile(dataDir, role), "utf8").trim());
    return Number.isInteger(pid) && pid > 0 && pid !== process.pid && processExists(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Claims `dataDir` for this process; throws if another live server holds it. */
export function claimDataDir(dataDir: string): () => void {
  const other = runningServerPid(dataDir);
  if (other) {
    throw new Error(`another skiff server (pid ${other}) is using --data-dir ${dataDir}; stop it first or choose another --data-dir`);
  }
  return writePidFile(dataDir, "server");
}

/**
 * Records this process as the agent using `dataDir` (released on stop).
 * Two agents on one data dir are refused, as two servers are.
 */
export function claimAgentDataDir(dataDir: string): () => void {
  const other = runningAgentPid(dataDir);
  if (other) {
    throw new Error(`another skiff agent (pid ${other}) is using --data-dir ${dataDir}; stop it first or choose another --data-dir`);
  }
  return writePidFile(dataDir, "agent");
}

function writePidFile(dataDir: string, role: Role): () => void {
  const file = pidFile(dataDir, role);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${process.pid}\n`);
  return () => {
    try {
      if (readFileSync(file, "utf8").trim() === String(process.pid)) rmSync(file);
    } catch {
      // already gone
    }
  };
}
