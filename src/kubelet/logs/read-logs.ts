/**
 * Reads one container's log file and writes what `kubectl logs` asked for,
 * as upstream's kuberuntime/logs.ReadLogs: tail (last N raw lines), since
 * (skip older lines), timestamps (an RFC3339Nano prefix on each logical
 * line; partial `P` pieces are joined without one), limitBytes (cut the
 * output there), a stream filter, and follow: after the end of the file,
 * wait for more (a directory watch, plus a poll every second as upstream's
 * logForceCheckPeriod) until the container is no longer running and the
 * file is drained. A rotation while following (the kubelet renamed the file
 * and the runtime reopened a new one at the same path) is followed too:
 * the old file is read to its end first, then the new one from its start.
 */
import { type FSWatcher, watch } from "node:fs";
import { type FileHandle, open, realpath, stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import type { PodLogOptions } from "../../apiserver/kubelet/pod-log-options.js";
import type { Logger } from "../../machinery/log.js";
import type { ContainerRuntime } from "../../runtime/types.js";
import { type LogMessage, type LogParser, parserFor } from "./log-format.js";
import { findTailLineStartIndex } from "./tail.js";

/** What to read, as upstream's kuberuntime LogOptions. */
export interface ReadLogsOptions {
  /** Last N raw lines; -1 for all. */
  readonly tail: number;
  /** Stop after this many bytes of output; -1 for no limit. */
  readonly bytes: number;
  /** Skip lines older than this (nanoseconds since the epoch). */
  readonly sinceNs?: bigint;
  readonly follow: boolean;
  readonly timestamps: boolean;
  /** Only this stream's lines (PodLogOptions.stream); both when undefined. */
  readonly stream?: "stdout" | "stderr";
}

/** Upstream's NewLogOptions: `sinceSeconds` counts back from `nowMs`; the later of the two since values wins. */
export function readLogsOptions(api: PodLogOptions, nowMs: number): ReadLogsOptions {
  let sinceMs: number | undefined;
  if (api.sinceSeconds !== undefined) sinceMs = nowMs - api.sinceSeconds * 1000;
  if (api.sinceTime !== undefined && (sinceMs === undefined || api.sinceTime > sinceMs)) sinceMs = api.sinceTime;
  return {
    tail: api.tailLines ?? -1,
    bytes: api.limitBytes ?? -1,
    ...(sinceMs !== undefined ? { sinceNs: BigInt(Math.floor(sinceMs)) * 1_000_000n } : {}),
    follow: api.follow,
    timestamps: api.timestamps,
    ...(api.stream === "Stdout" ? { stream: "stdout" as const } : api.stream === "Stderr" ? { stream: "stderr" as const } : {}),
  };
}

/** Where the output goes. `write` resolves once the bytes are taken (backpressure), false if the reader went away. */
export interface LogSink {
  write(chunk: Buffer): Promise<boolean>;
}

/** A {@link LogSink} over a writable stream (an HTTP response). */
export function streamSink(w: NodeJS.WritableStream & { destroyed?: boolean; writableEnded?: boolean }): LogSink {
  return {
    write(chunk) {
      if (w.destroyed || w.writableEnded) return Promise.resolve(false);
      if (w.write(chunk)) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = (ok: boolean) => {
          w.off("drain", onDrain);
          w.off("close", onClose);
          w.off("error", onClose);
          resolve(ok);
        };
        const onDrain = () => done(true);
        const onClose = () => done(false);
        w.on("drain", onDrain);
        w.on("close", onClose);
        w.on("error", onClose);
      });
    },
  };
}

/** Parameters of {@link readLogs}. */
export interface ReadLogsParams {
  /** The log file (the runtime's ContainerStatus.logPath). */
  readonly path: string;
  /** The container writing it: while it runs, follow keeps waiting for more. */
  readonly containerId: string;
  readonly opts: ReadLogsOptions;
  readonly runtime: Pick<ContainerRuntime, "containerStatus">;
  readonly sink: LogSink;
  /** Ends a follow (the client went away). */
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  /** How long a follow waits for a file event before looking again (1 s, upstream's logForceCheckPeriod). */
  readonly pollIntervalMs?: number;
}

/** The outcome: done, or an error worded as upstream's (shown to the user when nothing was written yet). */
export type ReadLogsResult = { readonly ok: true } | { readonly ok: false; readonly error: string };

const NL = 0x0a;
const CHUNK = 64 * 1024;

/** Go's wording of a file-system error: `lstat /x: no such file or directory`. */
export function goFsError(op: string, path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  const text: Record<string, string> = {
    ENOENT: "no such file or directory",
    EACCES: "permission denied",
    ENOTDIR: "not a directory",
    EISDIR: "is a directory",
    ELOOP: "too many levels of symbolic links",
  };
  return `${op} ${path}: ${(code && text[code]) ?? (err as Error)?.message ?? String(err)}`;
}

/** Whether the container still runs; a runtime that cannot tell (other than NotFound) counts as running, as upstream. */
async function isRunning(runtime: ReadLogsParams["runtime"], id: string): Promise<boolean> {
  const st = await runtime.containerStatus(id);
  if (!st.ok) return st.error.code !== "NotFound";
  return st.value.state === "running";
}

/** Writes the output of parsed lines, as upstream's logWriter. */
class LogWriter {
  private remain: number;
  private isNewLine = true;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Set once limitBytes is reached. */
  full = false;

  constructor(private readonly opts: ReadLogsOptions) {
    this.remain = opts.bytes < 0 ? Number.POSITIVE_INFINITY : opts.bytes;
  }

  add(msg: LogMessage): void {
    const addPrefix = this.isNewLine;
    this.isNewLine = msg.log.length === 0 || msg.log[msg.log.length - 1] === NL;
    if (this.opts.sinceNs !== undefined && msg.timestamp.epochNs < this.opts.sinceNs) return;
    // An unrequested stream neither counts against the limit nor is written.
    if (this.opts.stream && msg.stream !== this.opts.stream) return;
    let line = msg.log;
    if (this.opts.timestamps && addPrefix) line = Buffer.concat([Buffer.from(`${msg.timestamp.text} `), line]);
    if (line.length > this.remain) line = line.subarray(0, this.remain);
    this.pending.push(line);
    this.pendingBytes += line.length;
    this.remain -= line.length;
    if (this.remain <= 0) this.full = true;
  }

  /** Sends what was added since the last flush; false if the sink went away. */
  async flush(sink: LogSink): Promise<boolean> {
    if (this.pendingBytes === 0) return true;
    const chunk = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return sink.write(chunk);
  }
}

/** Wakes a follow on file events for one name in a directory; falls back to polling if the watch fails. */
class DirWatch {
  private watcher?: FSWatcher;
  private dirty = false;
  private wake?: () => void;

  constructor(
    private readonly dir: string,
    private readonly name: string,
    private readonly logger?: Logger,
  ) {}

  start(): void {
    try {
      this.watcher = watch(this.dir, { persistent: false }, (_type, filename) => {
        if (filename === null || filename === this.name || String(filename).startsWith(`${this.name}.`)) this.signal();
      });
      this.watcher.on("error", (err) => {
        this.logger?.warn("log directory watch failed; polling instead", { dir: this.dir, err: err.message });
        this.close();
      });
    } catch (err) {
      this.logger?.warn("cannot watch log directory; polling instead", { dir: this.dir, err: (err as Error).message });
    }
  }

  private signal(): void {
    this.dirty = true;
    this.wake?.();
  }

  /** Resolves on the next event (or at once if one came since the last wait), after `ms`, or on abort. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.dirty || signal?.aborted) {
      this.dirty = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.wake = undefined;
        this.dirty = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
      this.wake = done;
    });
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}

/** Reads the log file per `opts` into the sink; see the module comment. */
export async function readLogs(p: ReadLogsParams): Promise<ReadLogsResult> {
  const { opts, sink, signal } = p;
  let path: string;
  try {
    // As upstream: follow symlinks first, so the watch sees the real directory.
    path = await realpath(p.path);
  } catch (err) {
    return { ok: false, error: `failed to try resolving symlinks in path ${JSON.stringify(p.path)}: ${goFsError("lstat", p.path, err)}` };
  }
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (err) {
    return { ok: false, error: `failed to open log file ${JSON.stringify(path)}: ${goFsError("open", path, err)}` };
  }
  let watch: DirWatch | undefined;
  try {
    let pos: number;
    try {
      pos = await findTailLineStartIndex(fh, opts.tail);
    } catch (err) {
      return { ok: false, error: `failed to tail ${opts.tail} lines of log file ${JSON.stringify(path)}: ${(err as Error).message}` };
    }
    const limited = opts.tail >= 0 && !opts.follow;
    let limitedNum = opts.tail;
    const writer = new LogWriter(opts);
    let parse: LogParser | undefined;
    let pendingLine = Buffer.alloc(0);
    let found = true;
    let stop = false;
    const buf = Buffer.alloc(CHUNK);

    /** Handles one raw line; false when the output is complete (limit reached). */
    const handle = (line: Buffer): boolean | string => {
      if (!parse) {
        const chosen = parserFor(line);
        if (typeof chosen === "string") return `failed to get parse function: ${chosen}`;
        parse = chosen;
      }
      const msg = parse(line);
      if (typeof msg === "string") {
        p.logger?.warn("failed when parsing line in log file", { path, err: msg });
        return true;
      }
      writer.add(msg);
      if (limited) limitedNum--;
      return !writer.full;
    };

    for (;;) {
      if (signal?.aborted) return { ok: true };
      if (stop || (limited && limitedNum === 0)) {
        await writer.flush(sink);
        return { ok: true };
      }
      const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
      if (bytesRead > 0) {
        pos += bytesRead;
        let data = pendingLine.length > 0 ? Buffer.concat([pendingLine, buf.subarray(0, bytesRead)]) : Buffer.from(buf.subarray(0, bytesRead));
        let start = 0;
        for (let nl = data.indexOf(NL); nl >= 0; nl = data.indexOf(NL, start)) {
          const r = handle(data.subarray(start, nl + 1));
          start = nl + 1;
          if (typeof r === "string") return { ok: false, error: r };
          if (!r || (limited && limitedNum === 0)) {
            await writer.flush(sink);
            return { ok: true };
          }
        }
        data = data.subarray(start);
        pendingLine = data.length > 0 ? Buffer.from(data) : Buffer.alloc(0);
        if (!(await writer.flush(sink))) return { ok: true };
        continue;
      }
      // End of file.
      if (!opts.follow) {
        stop = true;
        if (pendingLine.length === 0) continue;
        // The last line has no "\n" yet: output it as it is and stop.
        const r = handle(pendingLine);
        pendingLine = Buffer.alloc(0);
        if (typeof r === "string") return { ok: false, error: r };
        continue;
      }
      // The container is gone and everything it wrote has been read.
      if (!found) return { ok: true };
      // Rotated: the path now names a new file. This one is drained, so move on to the new one.
      const rotated = await newFileAt(path, fh);
      if (rotated) {
        if (pendingLine.length > 0) {
          const r = handle(pendingLine);
          pendingLine = Buffer.alloc(0);
          if (typeof r === "string") return { ok: false, error: r };
          if (!r || !(await writer.flush(sink))) return { ok: true };
        }
        await fh.close();
        fh = rotated;
        pos = 0;
        continue;
      }
      if (!watch) {
        watch = new DirWatch(dirname(path), basename(path), p.logger);
        watch.start();
        // Something may have been written between the read and the watch: look again first.
        continue;
      }
      if (!(await isRunning(p.runtime, p.containerId))) {
        // Read what is left, then stop at the next end of file.
        found = false;
        continue;
      }
      await watch.wait(p.pollIntervalMs ?? 1000, signal);
    }
  } finally {
    watch?.close();
    await fh.close().catch(() => {});
  }
}

/** An open handle on the file now at `path` if it is not the one `current` reads (rotation), else undefined. */
async function newFileAt(path: string, current: FileHandle): Promise<FileHandle | undefined> {
  let now: { ino: number; dev: number };
  try {
    now = await stat(path);
  } catch {
    // Renamed and not yet reopened: keep waiting on the old one.
    return undefined;
  }
  const cur = await current.stat();
  if (now.ino === cur.ino && now.dev === cur.dev) return undefined;
  try {
    return await open(path, "r");
  } catch {
    return undefined;
  }
}
