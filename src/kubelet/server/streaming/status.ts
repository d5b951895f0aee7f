/**
 * The metav1.Status a streaming session ends with, written to the error
 * stream (SPDY) or channel 3 (WebSocket), byte-for-byte as the kubelet's
 * remotecommand server marshals it: no kind/apiVersion (the TypeMeta is
 * empty), fields in Go struct order, `code` only when non-zero.
 *
 * Protocols v4/v5 carry the JSON; v1–v3 carry only the message text of a
 * failure and nothing on success (v1WriteStatusFunc).
 */

/** A metav1.StatusCause; `reason` is Go's `Type` field. */
export interface StreamStatusCause {
  readonly reason?: string;
  readonly message?: string;
}

/** The parts of metav1.Status a streaming session reports. */
export interface StreamStatus {
  readonly status: "Success" | "Failure";
  readonly message?: string;
  readonly reason?: string;
  readonly causes?: readonly StreamStatusCause[];
  readonly code?: number;
}

/** remotecommand's NonZeroExitCodeReason and ExitCodeCauseType. */
export const NON_ZERO_EXIT_CODE_REASON = "NonZeroExitCode";
export const EXIT_CODE_CAUSE_TYPE = "ExitCode";

export const SUCCESS: StreamStatus = { status: "Success" };

/** Go's `%v` of a []string: `[sh -c exit 3]`. */
function goStrings(values: readonly string[]): string {
  return `[${values.join(" ")}]`;
}

/**
 * A command that ran and exited non-zero. The inner text is what CRI
 * runtimes' exec returns (`error executing command [cmd], exit code N`),
 * wrapped by ServeExec.
 */
export function nonZeroExit(cmd: readonly string[], exitCode: number): StreamStatus {
  return {
    status: "Failure",
    message: `command terminated with non-zero exit code: error executing command ${goStrings(cmd)}, exit code ${exitCode}`,
    reason: NON_ZERO_EXIT_CODE_REASON,
    causes: [{ reason: EXIT_CODE_CAUSE_TYPE, message: String(exitCode) }],
  };
}

/** apierrors.NewInternalError(err). */
export function internalError(message: string): StreamStatus {
  return {
    status: "Failure",
    message: `Internal error occurred: ${message}`,
    reason: "InternalError",
    causes: [{ message }],
    code: 500,
  };
}

/** The JSON of a v4/v5 error stream, keys in metav1.Status order. */
export function statusJson(s: StreamStatus): string {
  const out: Record<string, unknown> = { metadata: {}, status: s.status };
  if (s.message) out.message = s.message;
  if (s.reason) out.reason = s.reason;
  if (s.causes && s.causes.length > 0) {
    out.details = {
      causes: s.causes.map((c) => {
        const cause: Record<string, string> = {};
        if (c.reason) cause.reason = c.reason;
        if (c.message) cause.message = c.message;
        return cause;
      }),
    };
  }
  if (s.code) out.code = s.code;
  return JSON.stringify(out);
}

/** What the error stream carries for `s` under the negotiated protocol version. */
export function encodeStatus(s: StreamStatus, jsonStatus: boolean): Buffer | undefined {
  if (jsonStatus) return Buffer.from(statusJson(s), "utf8");
  // v1WriteStatusFunc: only failures, as the bare message (StatusError.Error()).
  if (s.status === "Success") return undefined;
  return Buffer.from(s.message ?? "", "utf8");
}
