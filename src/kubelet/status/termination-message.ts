/**
 * A terminated container's message, as upstream's kuberuntime adds it to
 * the runtime's (toKubeContainerStatus, getTerminationMessage,
 * readLastStringFromContainerLogs): the file the container wrote at its
 * terminationMessagePath — found through the mount whose containerPath is
 * that path, at most its last 4096 bytes — and, under
 * `terminationMessagePolicy: FallbackToLogsOnError`, when that file is
 * empty and the container failed, the last 80 lines of its log, at most
 * the last 2048 bytes. Read once per exited container and cached: nothing
 * writes to a dead container's file.
 */
import { open } from "node:fs/promises";
import { isAbsolute } from "node:path";
import type { ContainerStatus as CriContainerStatus } from "../../runtime/types.js";
import { CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION, CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION } from "../runtime-labels.js";

/** upstream MaxContainerTerminationMessageLength. */
export const MAX_TERMINATION_MESSAGE_BYTES = 4096;
/** upstream MaxContainerTerminationMessageLogLength. */
export const MAX_TERMINATION_MESSAGE_LOG_BYTES = 2048;
/** upstream MaxContainerTerminationMessageLogLines. */
export const MAX_TERMINATION_MESSAGE_LOG_LINES = 80;

/** The last `max` bytes of a file, or why not. */
export type TailRead = { readonly ok: true; readonly data: Buffer } | { readonly ok: false; readonly notFound: boolean; readonly error: string };

/** Reads the end of a file (injectable for tests). */
export type TailReader = (path: string, maxBytes: number) => Promise<TailRead>;

/** Go's `%v` of an os error for `path`: `open PATH: no such file or directory`. */
function goFsError(op: string, err: NodeJS.ErrnoException, path: string): string {
  const text: Record<string, string> = { ENOENT: "no such file or directory", EACCES: "permission denied", EISDIR: "is a directory", ELOOP: "too many levels of symbolic links" };
  return `${op} ${path}: ${text[err.code ?? ""] ?? err.message}`;
}

/** {@link TailReader} over the host's files. */
export const readTail: TailReader = async (path, maxBytes) => {
  let op = "open";
  try {
    const fh = await open(path, "r");
    op = "read";
    try {
      const { size } = await fh.stat();
      const length = Math.min(size, maxBytes);
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, size - length);
      return { ok: true, data: buf.subarray(0, bytesRead) };
    } finally {
      await fh.close();
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { ok: false, notFound: e.code === "ENOENT", error: goFsError(op, e, path) };
  }
};

/**
 * The content of the last `lines` lines of a CRI log (`TIMESTAMP STREAM
 * F|P CONTENT`; `P` parts are joined to the line they continue; a full
 * line ends with a newline), both streams, at most its last `maxBytes`.
 */
export function lastLogLines(raw: Buffer, lines: number, maxBytes: number): string {
  const text = raw.toString("utf8");
  const all = text.split("\n");
  if (all[all.length - 1] === "") all.pop();
  const parts: string[] = [];
  for (const line of all.slice(-lines)) {
    // TIMESTAMP SP STREAM SP TAG SP CONTENT; a line that does not parse is skipped, as upstream's reader logs and skips it.
    const m = /^\S+ (stdout|stderr) ([^ ]*) ?(.*)$/.exec(line);
    if (!m) continue;
    const tags = m[2]!.split(":");
    parts.push(tags[0] === "P" ? m[3]! : `${m[3]!}\n`);
  }
  const out = Buffer.from(parts.join(""), "utf8");
  return out.subarray(Math.max(0, out.length - maxBytes)).toString("utf8");
}

/** Enough of a log's end for {@link MAX_TERMINATION_MESSAGE_LOG_LINES} lines of up to 16 KiB each. */
const LOG_TAIL_BYTES = MAX_TERMINATION_MESSAGE_LOG_LINES * 16 * 1024 + 1024;

/**
 * upstream getTerminationMessage + the log fallback: the text to add to
 * an exited container's message ("" for none). `policy` is the spec's
 * terminationMessagePolicy when the container's annotation lacks it.
 */
export async function terminationMessage(status: CriContainerStatus, policy: string | undefined, read: TailReader = readTail): Promise<string> {
  if (status.state !== "exited") return "";
  const path = status.annotations[CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION] ?? "";
  const effectivePolicy = status.annotations[CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION] ?? policy ?? "File";
  // A container that could not even start has no logs to fall back to.
  const fallbackToLogs = effectivePolicy === "FallbackToLogsOnError" && status.exitCode !== 0 && status.reason !== "ContainerCannotRun";
  let message = "";
  let checkLogs = fallbackToLogs;
  const mount = path ? status.mounts.find((m) => m.containerPath === path) : undefined;
  if (mount) {
    const r = await read(mount.hostPath, MAX_TERMINATION_MESSAGE_BYTES);
    if (r.ok) {
      message = r.data.toString("utf8");
      checkLogs = fallbackToLogs && r.data.length === 0;
    } else if (!r.notFound) return `Error on reading termination log ${mount.hostPath}: ${r.error}`;
  }
  if (!checkLogs) return message;
  // A runtime without log files (the simulated one) has nothing to fall back to.
  if (!status.logPath || !isAbsolute(status.logPath)) return "";
  const r = await read(status.logPath, LOG_TAIL_BYTES);
  // No log file means no output (skiff's runtimes create it with the container); other errors show, as upstream.
  if (!r.ok) return r.notFound ? "" : `Error on reading termination message from logs: ${r.error}`;
  return lastLogLines(r.data, MAX_TERMINATION_MESSAGE_LOG_LINES, MAX_TERMINATION_MESSAGE_LOG_BYTES);
}

/** upstream's enrichment: the runtime's message, then `: `, then the termination message. */
export function withTerminationMessage(runtimeMessage: string, terminationMsg: string): string {
  if (!terminationMsg) return runtimeMessage;
  return runtimeMessage ? `${runtimeMessage}: ${terminationMsg}` : terminationMsg;
}

/** Termination messages of exited containers, read once each (a bounded cache by container id). */
export class TerminationMessages {
  private readonly cache = new Map<string, string>();

  constructor(
    private readonly read: TailReader = readTail,
    private readonly maxEntries = 4096,
  ) {}

  /**
   * The termination message of exited container `containerId` ("" for
   * none); `load` fetches its runtime status the first time.
   */
  async of(containerId: string, load: () => Promise<CriContainerStatus | undefined>, policy: string | undefined): Promise<string> {
    const cached = this.cache.get(containerId);
    if (cached !== undefined) return cached;
    const status = await load();
    if (status?.state !== "exited") return "";
    const t = await terminationMessage(status, policy, this.read);
    if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(containerId, t);
    return t;
  }

  /** Forgets a removed container. */
  forget(containerId: string): void {
    this.cache.delete(containerId);
  }
}
