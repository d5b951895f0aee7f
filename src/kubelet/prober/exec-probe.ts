/**
 * The exec handler (upstream pkg/probe/exec plus the kubelet's
 * RunInContainer over CRI ExecSync): run a command in the container to
 * completion; exit 0 is success, any other exit a failure whose output
 * (stdout then stderr, at most 10 KiB) is the message; a timeout is a
 * failure `command "…" timed out`; a runtime that cannot run it at all is
 * an error (retried, then reported as such).
 */
import { formatRuntimeError, type StreamingService } from "../../runtime/types.js";
import { type HandlerOutcome, outcome } from "./types.js";

/** upstream maxReadLength: output kept for the message. */
export const MAX_EXEC_OUTPUT = 10 * 1024;

/** What a command run in a container printed and how it ended (upstream RunInContainer's `([]byte, error)`). */
export type ExecRun =
  | { readonly kind: "exited"; readonly exitCode: number; readonly output: Buffer; readonly stderr: Buffer }
  | { readonly kind: "timeout"; readonly message: string }
  | { readonly kind: "error"; readonly message: string };

/**
 * Runs `cmd` in container `containerId` through CRI ExecSync. A timeout of
 * 0 means none (CRI's contract), which lifecycle hooks use.
 */
export async function runInContainer(runtime: Pick<StreamingService, "execSync">, containerId: string, cmd: readonly string[], timeoutSeconds: number): Promise<ExecRun> {
  const r = await runtime.execSync(containerId, cmd, timeoutSeconds);
  if (!r.ok) {
    // remote_runtime.go: a DeadlineExceeded from the runtime is a timed-out command.
    if (r.error.code === "DeadlineExceeded") return { kind: "timeout", message: `command ${JSON.stringify(cmd.join(" "))} timed out` };
    return { kind: "error", message: formatRuntimeError(r.error) };
  }
  const v = r.value;
  if (v.timedOut) return { kind: "timeout", message: `command ${JSON.stringify(cmd.join(" "))} timed out` };
  return { kind: "exited", exitCode: v.exitCode, output: Buffer.concat([v.stdout, v.stderr]), stderr: v.stderr };
}

/** upstream execProber.Probe over {@link runInContainer}. */
export async function execProbe(runtime: Pick<StreamingService, "execSync">, containerId: string, cmd: readonly string[], timeoutSeconds: number): Promise<HandlerOutcome> {
  const run = await runInContainer(runtime, containerId, cmd, timeoutSeconds);
  if (run.kind === "timeout") return outcome.failure(run.message);
  if (run.kind === "error") return outcome.error(run.message);
  const text = run.output.subarray(0, MAX_EXEC_OUTPUT).toString("utf8");
  return run.exitCode === 0 ? outcome.success(text) : outcome.failure(text);
}
