/**
 * One server per data dir: `<data-dir>/server.pid` names the running server,
 * so a second server, or an offline restore, can refuse with a clear reason.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

function pidFile(dataDir: string): string {
  return join(dataDir, "server.pid");
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The PID of a live server using `dataDir`, if there is one. */
export function runningServerPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile(dataDir), "utf8").trim());
    return Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid) ? pid : undefined;
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
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(pidFile(dataDir), `${process.pid}\n`);
  return () => {
    try {
      if (readFileSync(pidFile(dataDir), "utf8").trim() === String(process.pid)) rmSync(pidFile(dataDir));
    } catch {
      // already gone
    }
  };
}
