/** Whether a process with `pid` exists (signal 0 reaches it, or it belongs to another user); zombies count as existing. */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
