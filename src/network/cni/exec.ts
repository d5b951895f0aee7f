/**
 * Runs a host command (ip, nft, iptables, a CNI plugin) without a shell and
 * reports what happened as a value: a command that fails, cannot start or
 * times out is an expected outcome here, never a rejected promise.
 */
import { spawn } from "node:child_process";

/** What a finished command did. */
export interface CommandOutcome {
  /** Exit status; null when it was killed or never started. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Set when the command could not be started or was killed on timeout. */
  readonly error?: string;
}

/** Options for {@link runCommand}. */
export interface RunCommandOptions {
  /** Written to the command's standard input, which is then closed. */
  readonly input?: string;
  /** The complete environment of the command (not merged with ours). */
  readonly env?: NodeJS.ProcessEnv;
  /** Killed (SIGKILL, by its pid) after this long; default 60 s. */
  readonly timeoutMs?: number;
}

/** Runs `command args…` and resolves with its outcome; never rejects. */
export function runCommand(command: string, args: readonly string[], opts: RunCommandOptions = {}): Promise<CommandOutcome> {
  return new Promise((resolve) => {
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(command, args, { env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    } catch (err) {
      resolve({ code: null, stdout: "", stderr: "", error: `cannot run ${command}: ${(err as Error).message}` });
      return;
    }
    const out: Buffer[] = [];
    const errOut: Buffer[] = [];
    let error: string | undefined;
    let done = false;
    const timer = setTimeout(() => {
      error = `${command} did not finish within ${opts.timeoutMs ?? 60_000}ms and was killed`;
      child.kill("SIGKILL");
    }, opts.timeoutMs ?? 60_000);
    child.stdout?.on("data", (b: Buffer) => out.push(b));
    child.stderr?.on("data", (b: Buffer) => errOut.push(b));
    // A plugin that exits before reading its config closes stdin under us (EPIPE); its exit status says what matters.
    child.stdin?.on("error", () => {});
    child.on("error", (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ code: null, stdout: "", stderr: "", error: `cannot run ${command}: ${err.message}` });
    });
    child.on("close", (code) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const res: CommandOutcome = {
        code,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(errOut).toString("utf8"),
      };
      resolve(error === undefined ? res : { ...res, error });
    });
    child.stdin?.end(opts.input ?? "");
  });
}

/** One line describing a failed command, for logs and error messages. */
export function describeFailure(command: string, args: readonly string[], o: CommandOutcome): string {
  const detail = o.error ?? (o.stderr.trim() || o.stdout.trim() || `exit status ${o.code}`);
  return `${command} ${args.join(" ")}: ${detail}`;
}
