/**
 * The vocabulary of the prober, as upstream's pkg/probe and
 * pkg/kubelet/prober/results: what one probe attempt returns (a handler
 * outcome) and what the kubelet remembers per container (a result).
 */

/** Which probe: upstream's probeType. */
export type ProbeType = "liveness" | "readiness" | "startup";

/** Every probe type, in the order upstream's AddPod creates workers. */
export const PROBE_TYPES: readonly ProbeType[] = ["startup", "readiness", "liveness"];

/** `Liveness`, `Readiness`, `Startup`: how events and logs name a probe type (upstream probeType.String()). */
export function probeTypeName(t: ProbeType): string {
  return t === "liveness" ? "Liveness" : t === "readiness" ? "Readiness" : "Startup";
}

/** Outcome of one handler run (upstream probe.Result): a warning counts as success but is reported. */
export type HandlerResult = "success" | "warning" | "failure" | "unknown";

/**
 * What one handler run returned (upstream's `(probe.Result, string, error)`).
 * `output` is user-facing (event text); `error` marks a run that could not
 * be judged at all (upstream's non-nil error), which the prober retries and
 * whose result the worker throws away.
 */
export interface HandlerOutcome {
  readonly result: HandlerResult;
  readonly output: string;
  readonly error?: string;
}

/** A cached result per container (upstream results.Result); `unknown` until a startup probe decided. */
export type ProbeResult = "success" | "failure" | "unknown";

/** Shorthands for handler outcomes. */
export const outcome = {
  success: (output = ""): HandlerOutcome => ({ result: "success", output }),
  warning: (output: string): HandlerOutcome => ({ result: "warning", output }),
  failure: (output: string): HandlerOutcome => ({ result: "failure", output }),
  /** A run that errored (upstream: probe.Unknown with an error). */
  error: (error: string, result: HandlerResult = "unknown", output = ""): HandlerOutcome => ({ result, output, error }),
};
