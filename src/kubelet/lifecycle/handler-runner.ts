/**
 * Runs a container lifecycle handler (upstream pkg/kubelet/lifecycle
 * handlers.go HandlerRunner): `exec` in the container (no timeout, as
 * upstream), `httpGet` (the prober's client with User-Agent
 * `kube-lifecycle/M.m`, any HTTP answer counts, an HTTPS hook answered in
 * plain HTTP is retried over HTTP with a `LifecycleHTTPFallback` warning),
 * and `sleep`. Failures come back as upstream's message, e.g. `Exec
 * lifecycle hook ([sh -c exit 1]) for Container "app" in Pod
 * "p_ns(uid)" failed - error: command 'sh -c exit 1' exited with 1: ,
 * message: ""`. On a simulated runtime (one that offers `simulatedProbe`)
 * an httpGet handler succeeds without opening a socket: sim nodes run
 * nothing to answer it.
 */
import type { Container, LifecycleHandler, Pod } from "kubernetes-types/core/v1.js";
import type { Timers } from "../../client/timers.js";
import type { Logger } from "../../machinery/log.js";
import type { ContainerRuntime } from "../../runtime/types.js";
import type { KubeletEvents } from "../events.js";
import { podRef } from "../events.js";
import { formatPod, goSlice } from "../go-format.js";
import { getPodStatus } from "../pod/runtime-pod-status.js";
import { runInContainer } from "../prober/exec-probe.js";
import { type HttpGetRequest, httpGet, newRequestForHttpGet } from "../prober/http-get.js";

/** What running hooks (and stopping containers) needs. */
export interface HookDeps {
  readonly runtime: Pick<ContainerRuntime, "execSync" | "stopContainer"> & Partial<Pick<ContainerRuntime, "simulatedProbe">>;
  readonly events: KubeletEvents;
  readonly timers: Timers;
  readonly logger: Logger;
  /** The pod's IP, for httpGet handlers without a host (upstream asks the runtime for the pod's status). */
  readonly podIP: (pod: Pod) => Promise<string | undefined>;
}

/** {@link HookDeps.podIP} from the runtime's sandboxes. */
export function podIPFromRuntime(runtime: ContainerRuntime): (pod: Pod) => Promise<string | undefined> {
  return async (pod) => {
    const st = await getPodStatus(runtime, pod.metadata?.uid ?? "");
    return st.ok ? st.value.ips[0] : undefined;
  };
}

/** The outcome of a handler: `message` is upstream's (for statuses and logs, never events: it may hold secrets). */
export type HandlerRun = { readonly ok: true } | { readonly ok: false; readonly message: string; readonly error: string; readonly aborted?: boolean };

/** Event reason of the HTTPS → HTTP fallback. */
export const LIFECYCLE_HTTP_FALLBACK = "LifecycleHTTPFallback";

function sleepOn(timers: Timers, ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = () => {
      cancel();
      resolve(false);
    };
    const cancel = timers.after(ms, () => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

async function runHttp(deps: HookDeps, pod: Pod, container: Container, handler: NonNullable<LifecycleHandler["httpGet"]>): Promise<string | undefined> {
  let podIP = handler.host ?? "";
  if (!podIP) {
    const ip = await deps.podIP(pod);
    if (!ip) return `failed to find networking container: pod ${formatPod(pod)} has no IP`;
    podIP = ip;
  }
  const built = newRequestForHttpGet(handler, container, podIP, "lifecycle");
  if (!built.ok) return built.error;
  const req = built.request;
  const r = await httpGet(req, { readBody: false });
  if (r.ok) return undefined;
  if (r.error.httpResponseToHttps && req.url.protocol === "https:") {
    // upstream: an HTTPS hook answered in plain HTTP is retried over HTTP, without credentials.
    const url = new URL(req.url.href);
    url.protocol = "http:";
    const retry: HttpGetRequest = { url, display: req.display.replace(/^https:/, "http:"), headers: req.headers.filter(([k]) => k !== "Authorization") };
    const again = await httpGet(retry, { readBody: false });
    if (again.ok) {
      deps.events.emit(podRef(pod), "Warning", LIFECYCLE_HTTP_FALLBACK, `request to HTTPS lifecycle hook ${url.host} got HTTP response, retry with HTTP succeeded`);
      return undefined;
    }
  }
  return r.error.message;
}

/**
 * upstream HandlerRunner.Run. `signal` ends a sleep early (the container is
 * being stopped); exec and HTTP handlers run to their end.
 */
export async function runHandler(deps: HookDeps, pod: Pod, container: Container, containerId: string, handler: LifecycleHandler, signal?: AbortSignal): Promise<HandlerRun> {
  const where = `for Container ${JSON.stringify(container.name)} in Pod ${JSON.stringify(formatPod(pod))}`;
  if (handler.exec) {
    const cmd = handler.exec.command ?? [];
    // No timeout: upstream passes 0 (CRI: none).
    const run = await runInContainer(deps.runtime, containerId, cmd, 0);
    if (run.kind === "exited" && run.exitCode === 0) return { ok: true };
    let error: string;
    let output = "";
    if (run.kind === "exited") {
      error = `command '${cmd.join(" ")}' exited with ${run.exitCode}: ${run.stderr.toString("utf8")}`;
      output = run.output.toString("utf8");
    } else error = run.message;
    return { ok: false, error, message: `Exec lifecycle hook (${goSlice(cmd)}) ${where} failed - error: ${error}, message: ${JSON.stringify(output)}` };
  }
  if (handler.httpGet) {
    if (deps.runtime.simulatedProbe) return { ok: true };
    const error = await runHttp(deps, pod, container, handler.httpGet);
    if (error === undefined) return { ok: true };
    return { ok: false, error, message: `HTTP lifecycle hook (${handler.httpGet.path ?? ""}) ${where} failed - error: ${error}` };
  }
  if (handler.sleep) {
    const seconds = handler.sleep.seconds;
    const slept = await sleepOn(deps.timers, seconds * 1000, signal);
    if (slept) return { ok: true };
    const error = "container terminated before sleep hook finished";
    return { ok: false, aborted: true, error, message: `Sleep lifecycle hook (${seconds}) ${where} failed - error: ${error}` };
  }
  const what = handler.tcpSocket ? "tcpSocket is not supported as a lifecycle handler" : "no action (exec, httpGet or sleep) is set";
  const error = `invalid handler: ${what}`;
  return { ok: false, error, message: `Cannot run handler: ${error}` };
}
