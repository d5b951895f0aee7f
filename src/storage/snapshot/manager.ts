/**
 * Snapshots of the cluster store on disk: save, list, prune, restore and a
 * cron schedule, named as k3s names them (`on-demand-<node>-<unix time>`,
 * scheduled ones `etcd-snapshot-<node>-<unix time>`).
 */
import { mkdirSync } from "node:fs";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { Cron } from "croner";
import { type Clock, systemClock } from "../../machinery/clock.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { SnapshotInvalidError } from "../errors.js";
import type { SnapshotEntry, SnapshotInfo, Store } from "../store.js";
import { isSkiffSnapshot, readSkiffSnapshot } from "./skiff-format.js";

/** Name prefix of scheduled snapshots, as k3s. */
export const SCHEDULED_NAME = "etcd-snapshot";
/** Name prefix of `skiff snapshot save` without `--name`, as k3s. */
export const ON_DEMAND_NAME = "on-demand";

/** A snapshot file found in the snapshot directory. */
export interface SnapshotFile {
  readonly name: string;
  readonly path: string;
  readonly sizeBytes: number;
  readonly createdAt: Date;
}

export interface SnapshotManagerOptions {
  /** Where snapshots live (`<data-dir>/db/snapshots`). */
  readonly dir: string;
  /** Node name put in file names. */
  readonly nodeName: string;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

const NAME_OK = /^[a-z0-9][a-z0-9._-]*$/i;

/** Tells the format of a snapshot file without trusting its name. */
export async function snapshotFormat(path: string): Promise<"skiff" | "etcd"> {
  if (await isSkiffSnapshot(path)) return "skiff";
  // etcd appends a SHA-256 to its bbolt file, whose size is a multiple of 512.
  const { size } = await stat(path);
  if (size > 32 && size % 512 === 32) return "etcd";
  throw new SnapshotInvalidError(`${path} is not a skiff or etcd snapshot, or it is truncated (${size} bytes); nothing was restored`);
}

export class SnapshotManager {
  private readonly clock: Clock;
  private readonly log: Logger;
  private cron?: Cron;

  constructor(private readonly opts: SnapshotManagerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger;
  }

  get dir(): string {
    return this.opts.dir;
  }

  /** Saves a snapshot of `store` as `<name>-<node>-<unix seconds>`. */
  async save(store: Pick<Store, "saveSnapshot">, name = ON_DEMAND_NAME): Promise<SnapshotInfo> {
    if (!NAME_OK.test(name)) throw new Error(`snapshot name ${JSON.stringify(name)} may hold only letters, digits, '.', '_' and '-'`);
    mkdirSync(this.opts.dir, { recursive: true, mode: 0o700 });
    const base = `${name}-${this.opts.nodeName}-${Math.floor(this.clock.now() / 1000)}`;
    let file = join(this.opts.dir, base);
    for (let i = 2; await exists(file); i++) file = join(this.opts.dir, `${base}-${i}`);
    const started = Date.now();
    const info = await store.saveSnapshot(file);
    this.log.info("snapshot saved", {
      path: file,
      format: info.format,
      revision: info.revision,
      keys: info.keys,
      bytes: info.sizeBytes,
      tookMs: Date.now() - started,
    });
    return info;
  }

  /** Snapshots in the directory, oldest first. */
  async list(): Promise<SnapshotFile[]> {
    let names: string[];
    try {
      names = await readdir(this.opts.dir);
    } catch {
      return [];
    }
    const out: SnapshotFile[] = [];
    for (const name of names) {
      if (name.endsWith(".part")) continue;
      const path = join(this.opts.dir, name);
      // The running server prunes old snapshots: one listed a moment ago may be gone now.
      const st = await stat(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT") return undefined;
        throw err;
      });
      if (!st?.isFile()) continue;
      out.push({ name, path, sizeBytes: st.size, createdAt: st.mtime });
    }
    return out.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.name.localeCompare(b.name));
  }

  /** Deletes the oldest snapshots whose name starts with `name-`, keeping `retention`. */
  async prune(retention: number, name = SCHEDULED_NAME): Promise<SnapshotFile[]> {
    if (!Number.isInteger(retention) || retention < 1) throw new Error(`--snapshot-retention must be a whole number >= 1, not ${retention}`);
    const mine = (await this.list()).filter((f) => f.name.startsWith(`${name}-`));
    const doomed = mine.slice(0, Math.max(0, mine.length - retention));
    for (const f of doomed) {
      await rm(f.path, { force: true });
      this.log.info("snapshot pruned", { path: f.path });
    }
    return doomed;
  }

  /**
   * Replaces the store's contents with the snapshot at `path` (a skiff or an
   * etcd snapshot). The file is verified whole before anything changes.
   */
  async restore(store: Store, path: string): Promise<{ revision: number; keys: number }> {
    const format = await snapshotFormat(path);
    const started = Date.now();
    let result: { revision: number; keys: number };
    if (format === "skiff") {
      const { header, entries } = await readSkiffSnapshot(path);
      this.log.info("restoring snapshot", { path, format, takenAtRevision: header.revision });
      result = await store.restore(entries);
    } else {
      const workDir = await mkdtemp(join(tmpdir(), "skiff-restore-"));
      try {
        this.log.info("restoring etcd snapshot through a temporary etcd", { path });
        // Collect first: the temporary etcd must be gone before the restore writes.
        const entries: SnapshotEntry[] = [];
        const { readEtcdSnapshotEntries } = await import("../backends/etcd/etcd-process.js");
        for await (const e of readEtcdSnapshotEntries(path, { keyPrefix: "", workDir })) entries.push(e);
        result = await store.restore(
          (async function* () {
            yield* entries;
          })(),
        );
      } finally {
        await rm(workDir, { recursive: true, force: true });
      }
    }
    this.log.info("snapshot restored", { path: basename(path), revision: result.revision, keys: result.keys, tookMs: Date.now() - started });
    return result;
  }

  /**
   * Saves `etcd-snapshot-…` on the cron `schedule` (5 fields, as k3s'
   * `--etcd-snapshot-schedule-cron`) and prunes to `retention` after each.
   */
  schedule(store: Store, schedule: string, retention: number): void {
    this.cron?.stop();
    this.cron = new Cron(schedule, { protect: true }, async () => {
      try {
        await this.save(store, SCHEDULED_NAME);
        await this.prune(retention, SCHEDULED_NAME);
      } catch (err) {
        this.log.error("scheduled snapshot failed", { err: (err as Error).message });
      }
    });
    this.log.info("snapshots scheduled", { schedule, retention, next: this.cron.nextRun()?.toISOString() });
  }

  /** When the next scheduled snapshot runs, if scheduled. */
  nextRun(): Date | undefined {
    return this.cron?.nextRun() ?? undefined;
  }

  stop(): void {
    this.cron?.stop();
    this.cron = undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Checks a cron expression, returning an error message or undefined. */
export function validateCron(expr: string): string | undefined {
  try {
    new Cron(expr, { paused: true }).stop();
    return undefined;
  } catch (err) {
    return `invalid --snapshot-schedule ${JSON.stringify(expr)}: ${(err as Error).message} (use 5 cron fields, e.g. "0 */12 * * *")`;
  }
}
