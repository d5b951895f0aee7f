/**
 * Notices container exits without polling: conmon writes
 * `<exit-dir>/<container-id>` when a container ends, and an inotify watch
 * (fs.watch) on that directory reports it at once. Also reports files
 * already there at start (exits that happened while no agent ran).
 */
import { type FSWatcher, readdirSync, watch } from "node:fs";

const CONTAINER_ID = /^[0-9a-f]{64}$/;

/** Watches one exit directory; calls `onExit(id)` for every exit file that appears. */
export class ExitWatcher {
  private watcher: FSWatcher | undefined;

  constructor(
    private readonly dir: string,
    private readonly onExit: (id: string) => void,
    private readonly onError: (err: Error) => void,
  ) {}

  /** Starts watching and reports the exit files present now. */
  start(): void {
    if (this.watcher) return;
    this.watcher = watch(this.dir, { persistent: false }, (_event, name) => {
      // conmon writes through a temporary name and renames: only the final name is an id.
      if (name && CONTAINER_ID.test(name.toString())) this.onExit(name.toString());
    });
    this.watcher.on("error", (err) => this.onError(err));
    for (const name of readdirSync(this.dir)) if (CONTAINER_ID.test(name)) this.onExit(name);
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}
