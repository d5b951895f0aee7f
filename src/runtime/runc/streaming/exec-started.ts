/**
 * Knowing when `runc exec` has started the process: runc writes the pid
 * file (atomically, by rename) right after the process started and before
 * it waits for it, and never writes it when the start failed. So "the pid
 * file appeared" means started, and "runc exited without one" means it
 * never ran. Event-driven (inotify through fs.watch), no polling.
 */
import { watch } from "node:fs";
import { type ExecStateDir, readExecPid } from "./runc-exec.js";

/**
 * Resolves with the exec'd process's host pid once runc started it, or
 * undefined once `runcExited` settled without a pid file.
 */
export function waitExecStarted(state: ExecStateDir, runcExited: Promise<unknown>): Promise<number | undefined> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (pid: number | undefined) => {
      if (done) return;
      done = true;
      watcher?.close();
      resolve(pid);
    };
    const check = async () => {
      const pid = await readExecPid(state);
      if (pid !== undefined) finish(pid);
    };
    let watcher: ReturnType<typeof watch> | undefined;
    try {
      watcher = watch(state.dir, () => void check());
      watcher.on("error", () => undefined);
    } catch {
      // Without inotify we still learn the outcome when runc exits.
      watcher = undefined;
    }
    // The file may have appeared before the watcher did.
    void check();
    void runcExited.then(async () => finish(await readExecPid(state)));
  });
}
