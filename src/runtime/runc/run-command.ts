/**
 * Runs a host tool (runc, mount, unshare, ip) to completion and reports how
 * it ended as a value: the runtime treats a failing tool as an expected
 * outcome to map to a RuntimeError, never as an exception.
 */
import { execFile } from "node:child_process";

/** How a command ended. `code` is -1 when it could not start or was killed by a signal. */
export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Set when the command could not be started at all (ENOENT, EACCES). */
  readonly spawnError?: string;
}

/** Options of {@link runCommand}. */
export interface RunCommandOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Kill the command after this long (SIGKILL); 0 or absent: no limit. */
  readonly timeoutMs?: number;
  /** Cap on captured output per stream (bytes); default 4 MiB. */
  readonly maxBuffer?: number;
}

/** Runs `file args…` and resolves with its exit code and output; never rejects. */
export function runCommand(file: string, args: readonly string[], opts: RunCommandOptions = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      [...args],
      {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        timeout: opts.timeoutMs ?? 0,
        killSignal: "SIGKILL",
        maxBuffer: opts.maxBuffer ?? 4 * 1024 * 1024,
        encoding: "utf8",
      },
      (err, stdout, stderr) => {
        if (!err) return resolve({ code: 0, stdout, stderr });
        const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
        if (typeof e.code === "string") {
          // ENOENT/EACCES: the tool never ran; ERR_CHILD_PROCESS_STDIO_MAXBUFFER: it was killed.
          return resolve({ code: -1, stdout: stdout ?? "", stderr: stderr ?? "", spawnError: `${file}: ${e.message}` });
        }
        resolve({ code: typeof e.code === "number" ? e.code : -1, stdout: stdout ?? "", stderr: stderr ?? "" });
      },
    );
  });
}

/** A one-line description of a failed command for error messages: its stderr (trimmed) or exit status. */
export function describeFailure(what: string, r: CommandResult): string {
  if (r.spawnError) return `${what}: ${r.spawnError}`;
  const detail = cleanToolMessage(r.stderr || r.stdout);
  return detail ? `${what}: ${detail}` : `${what}: exit status ${r.code}`;
}

/**
 * runc prints errors as logrus lines (`time="…" level=error msg="…"`); the
 * user needs only the message. Other text passes through trimmed.
 */
export function cleanToolMessage(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  const msgs: string[] = [];
  for (const line of lines) {
    const m = /(?:^|\s)msg="((?:[^"\\]|\\.)*)"/.exec(line);
    if (m) {
      try {
        msgs.push(JSON.parse(`"${m[1]}"`) as string);
      } catch {
        msgs.push(m[1]!);
      }
    } else {
      msgs.push(line);
    }
  }
  return msgs.join("; ");
}
