/**
 * Container log rotation, as upstream's kubelet containerLogManager: every
 * monitor interval (10 s) each running container's log file is checked, and
 * once it reaches containerLogMaxSize (10Mi) it is renamed to
 * `<log>.<YYYYMMDD-hhmmss>` and the runtime is asked to reopen its log
 * (CRI ReopenContainerLog), so the container keeps writing to a fresh file
 * at the same path. Older rotated files are gzipped (`.gz`) and the oldest
 * removed so at most containerLogMaxFiles (5) files exist per container
 * (the live one, the one just rotated, and MaxFiles-2 older ones).
 * Leftovers of a crash mid-rotation (`.tmp` files, a file whose `.gz`
 * exists) are removed first; a log that vanished is recovered by reopening.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { type Clock, systemClock } from "../../machinery/clock.js";
import type { Logger } from "../../machinery/log.js";
import { type ContainerRuntime, formatRuntimeError, type StringMap } from "../../runtime/types.js";
import { POD_NAME_LABEL, POD_NAMESPACE_LABEL, POD_UID_LABEL } from "../runtime-labels.js";
import { DEFAULT_POD_LOGS_DIR } from "./container-logs.js";

/** Upstream's containerLogMaxSize default (10Mi). */
export const DEFAULT_CONTAINER_LOG_MAX_SIZE = 10 * 1024 * 1024;
/** Upstream's containerLogMaxFiles default. */
export const DEFAULT_CONTAINER_LOG_MAX_FILES = 5;
/** Upstream's containerLogMonitorInterval default. */
export const DEFAULT_CONTAINER_LOG_MONITOR_INTERVAL_MS = 10_000;

const COMPRESS_SUFFIX = ".gz";
const TMP_SUFFIX = ".tmp";

/** Options of a {@link ContainerLogManager}. */
export interface ContainerLogManagerOptions {
  readonly runtime: Pick<ContainerRuntime, "listContainers" | "containerStatus" | "reopenContainerLog">;
  /** Rotate at this size in bytes (containerLogMaxSize); a negative size turns rotation off, as upstream. */
  readonly maxSizeBytes?: number;
  /** Files kept per container, the live one included (containerLogMaxFiles); must be > 1. */
  readonly maxFiles?: number;
  /** Check period (containerLogMonitorInterval). */
  readonly monitorIntervalMs?: number;
  /** Containers rotated at once (containerLogMaxWorkers, 1). */
  readonly maxWorkers?: number;
  /** Gzip rotated files other than the newest (true, as upstream always does). */
  readonly compress?: boolean;
  /** Resolves runtimes' relative log paths (`<dir>/<ns>_<name>_<uid>/<path>`). */
  readonly podLogsDir?: string;
  /** The clock that names rotated files. */
  readonly clock?: Clock;
  readonly logger: Logger;
}

/** Go's `20060102-150405` in local time (upstream's rotated-file suffix). */
export function rotationSuffix(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** A container's log path as a full path (CRI runtimes report it so; a relative one is under the pod's log directory). */
export function resolveLogPath(logPath: string, labels: StringMap, podLogsDir = DEFAULT_POD_LOGS_DIR): string {
  if (!logPath || isAbsolute(logPath)) return logPath;
  return join(podLogsDir, `${labels[POD_NAMESPACE_LABEL]}_${labels[POD_NAME_LABEL]}_${labels[POD_UID_LABEL]}`, logPath);
}

/** Upstream's isInUse: temporary files are not; compressed ones are; a file whose `.gz` exists is not. */
function isInUse(l: string, logs: readonly string[]): boolean {
  if (l.endsWith(TMP_SUFFIX)) return false;
  if (l.endsWith(COMPRESS_SUFFIX)) return true;
  return !logs.includes(l + COMPRESS_SUFFIX);
}

/** Rotates container logs; see the module comment. */
export class ContainerLogManager {
  private readonly maxSize: number;
  private readonly maxFiles: number;
  private readonly log: Logger;
  private readonly clock: Clock;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(private readonly o: ContainerLogManagerOptions) {
    this.maxFiles = o.maxFiles ?? DEFAULT_CONTAINER_LOG_MAX_FILES;
    if (!Number.isInteger(this.maxFiles) || this.maxFiles <= 1) throw new Error(`invalid MaxFiles ${this.maxFiles}, must be > 1`);
    this.maxSize = o.maxSizeBytes ?? DEFAULT_CONTAINER_LOG_MAX_SIZE;
    this.log = o.logger.with({ component: "container-log-manager" });
    this.clock = o.clock ?? systemClock;
  }

  /** Starts the periodic rotation (a no-op when rotation is off). */
  start(): void {
    if (this.maxSize < 0 || this.timer) return;
    const tick = () => {
      this.running = this.rotateLogs()
        .catch((err) => this.log.error("failed to rotate container logs", { err: (err as Error).message }))
        .finally(() => {
          this.running = undefined;
          if (this.timer) this.timer = setTimeout(tick, this.o.monitorIntervalMs ?? DEFAULT_CONTAINER_LOG_MONITOR_INTERVAL_MS).unref();
        });
    };
    this.timer = setTimeout(tick, this.o.monitorIntervalMs ?? DEFAULT_CONTAINER_LOG_MONITOR_INTERVAL_MS).unref();
  }

  /** Stops the periodic rotation; resolves once a pass in progress is done. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass over every running container (what the timer runs). */
  async rotateLogs(): Promise<void> {
    if (this.maxSize < 0) return;
    const list = await this.o.runtime.listContainers({ state: "running" });
    if (!list.ok) throw new Error(`failed to list containers: ${formatRuntimeError(list.error)}`);
    const ids = list.value.map((c) => c.id);
    const workers = Math.max(1, this.o.maxWorkers ?? 1);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(workers, ids.length) }, async () => {
        while (next < ids.length) await this.rotateContainer(ids[next++]!);
      }),
    );
  }

  /** Checks one container and rotates its log when due; failures are logged, never thrown (one container must not block the rest). */
  async rotateContainer(id: string): Promise<void> {
    const st = await this.o.runtime.containerStatus(id);
    if (!st.ok) {
      this.log.warn("failed to get container status for log rotation", { containerID: id, err: formatRuntimeError(st.error) });
      return;
    }
    // Only running containers write; an exited one keeps its log as it is.
    if (st.value.state !== "running") return;
    const path = resolveLogPath(st.value.logPath, st.value.labels, this.o.podLogsDir);
    if (!path) return;
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        this.log.warn("failed to stat container log", { containerID: id, path, err: (err as Error).message });
        return;
      }
      // Lost by a rotation whose reopen failed: reopening brings it back.
      const r = await this.o.runtime.reopenContainerLog(id);
      if (!r.ok) {
        this.log.warn("container log doesn't exist, reopen container log failed", { containerID: id, path, err: formatRuntimeError(r.error) });
        return;
      }
      try {
        size = (await stat(path)).size;
      } catch (err2) {
        this.log.warn("container log doesn't exist after reopening", { containerID: id, path, err: (err2 as Error).message });
        return;
      }
    }
    if (size < this.maxSize) return;
    try {
      await this.rotateLog(id, path);
    } catch (err) {
      this.log.warn("failed to rotate log for container", { containerID: id, path, err: (err as Error).message });
    }
  }

  /** Removes a container's log and every rotated file of it (upstream's Clean, when the container is removed). */
  async clean(id: string): Promise<void> {
    const st = await this.o.runtime.containerStatus(id);
    if (!st.ok) throw new Error(`failed to get container status ${JSON.stringify(id)}: ${formatRuntimeError(st.error)}`);
    const path = resolveLogPath(st.value.logPath, st.value.labels, this.o.podLogsDir);
    if (!path) return;
    for (const l of await this.glob(path, "")) await rm(l, { force: true });
  }

  private async rotateLog(id: string, log: string): Promise<void> {
    let logs = await this.glob(log, ".");
    // Leftovers of an interrupted rotation.
    const inUse: string[] = [];
    for (const l of logs) {
      if (isInUse(l, logs)) inUse.push(l);
      else await rm(l, { force: true });
    }
    logs = inUse.sort();
    // The live log and the one about to be rotated are two of maxFiles; remove the oldest beyond that.
    const keep = Math.max(0, this.maxFiles - 2);
    while (logs.length > keep) await rm(logs.shift()!, { force: true });
    if (this.o.compress !== false) {
      for (const l of logs) if (!l.endsWith(COMPRESS_SUFFIX)) await this.compress(l);
    }
    const rotated = `${log}.${rotationSuffix(this.clock.now())}`;
    await rename(log, rotated);
    const r = await this.o.runtime.reopenContainerLog(id);
    if (!r.ok) {
      // Put it back so the next pass tries again; otherwise the log would be lost until a reopen.
      await rename(rotated, log).catch((err) => this.log.error("failed to rename rotated log back", { rotated, log, err: (err as Error).message }));
      throw new Error(`failed to reopen container log ${JSON.stringify(id)}: ${formatRuntimeError(r.error)}`);
    }
    this.log.debug("rotated container log", { containerID: id, log, rotated });
  }

  /** `<log>.gz` via a temporary file, then the original is removed (upstream's compressLog). */
  private async compress(l: string): Promise<void> {
    const tmp = l + TMP_SUFFIX;
    try {
      await pipeline(createReadStream(l), createGzip(), createWriteStream(tmp, { mode: 0o644 }));
      await rename(tmp, l + COMPRESS_SUFFIX);
      await rm(l, { force: true });
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** Files named `<log><sep>…` in the log's directory (filepath.Glob of `<log>.*` / `<log>*`). */
  private async glob(log: string, sep: string): Promise<string[]> {
    const dir = dirname(log);
    const prefix = basename(log) + sep;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return [];
    }
    return names.filter((n) => n.startsWith(prefix)).map((n) => join(dir, n));
  }
}
