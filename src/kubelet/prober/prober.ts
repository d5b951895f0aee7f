/**
 * One probe run for a container (upstream pkg/kubelet/prober/prober.go):
 * picks the handler the probe spec names, retries a run that errored (up
 * to 3 times), and records upstream's events — `Unhealthy "Liveness probe
 * failed: HTTP probe failed with statuscode: 500"`, `ProbeWarning
 * "Readiness probe warning: …"`, `Unhealthy "… probe errored and resulted
 * in unknown state: …"`. A simulated runtime (one that offers
 * `simulatedProbe`) is asked instead: its nodes run no processes and must
 * open no sockets.
 */
import type { Container, Pod, PodStatus, Probe } from "kubernetes-types/core/v1.js";
import type { Logger } from "../../machinery/log.js";
import type { ContainerRuntime } from "../../runtime/types.js";
import { type KubeletEvents, podRef } from "../events.js";
import { formatPod } from "../go-format.js";
import { execProbe } from "./exec-probe.js";
import { expandCommandOnlyStatic } from "./expand.js";
import { grpcProbe } from "./grpc-probe.js";
import { newRequestForHttpGet } from "./http-get.js";
import { httpProbe } from "./http-probe.js";
import { resolveContainerPort } from "./port.js";
import { tcpProbe } from "./tcp-probe.js";
import { type HandlerOutcome, outcome, type ProbeType, probeTypeName } from "./types.js";

/** Event reasons of the prober (upstream pkg/kubelet/events). */
export const ProbeEventReason = {
  Unhealthy: "Unhealthy",
  ProbeWarning: "ProbeWarning",
} as const;

/** upstream maxProbeRetries. */
const MAX_PROBE_RETRIES = 3;

/** What a prober needs from the runtime. */
export type ProberRuntime = Pick<ContainerRuntime, "execSync"> & Partial<Pick<ContainerRuntime, "simulatedProbe">>;

/** Options of a {@link Prober}. */
export interface ProberOptions {
  readonly runtime: ProberRuntime;
  readonly events: KubeletEvents;
  readonly logger: Logger;
}

/** The decided outcome of one probe (upstream's `(results.Result, error)`). */
export interface ProbeRun {
  readonly result: "success" | "failure";
  /** The run errored: the worker throws the result away. */
  readonly errored: boolean;
}

/** The probe of `type` in `container`'s spec. */
export function probeSpec(container: Container, type: ProbeType): Probe | undefined {
  return type === "liveness" ? container.livenessProbe : type === "readiness" ? container.readinessProbe : container.startupProbe;
}

/** Runs probes and reports them. */
export class Prober {
  constructor(private readonly o: ProberOptions) {}

  /** upstream prober.probe. `status` is the pod's latest status (its podIP). */
  async probe(type: ProbeType, pod: Pod, status: PodStatus, container: Container, containerId: string): Promise<ProbeRun> {
    const spec = probeSpec(container, type);
    if (!spec) return { result: "success", errored: false };
    let run: HandlerOutcome = outcome.error("not run");
    for (let i = 0; i < MAX_PROBE_RETRIES; i++) {
      run = await this.runProbe(type, spec, pod, status, container, containerId);
      if (run.error === undefined) break;
    }
    const name = probeTypeName(type);
    const init = (pod.spec?.initContainers ?? []).some((c) => c.name === container.name);
    const ref = podRef(pod, { name: container.name, init });
    const log = { pod: `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`, container: container.name, probe: type };
    if (run.error !== undefined) {
      this.o.logger.debug("probe errored", { ...log, result: run.result, err: run.error });
      this.o.events.emit(ref, "Warning", ProbeEventReason.Unhealthy, `${name} probe errored and resulted in ${run.result} state: ${run.error}`);
      return { result: "failure", errored: true };
    }
    switch (run.result) {
      case "success":
        return { result: "success", errored: false };
      case "warning":
        this.o.events.emit(ref, "Warning", ProbeEventReason.ProbeWarning, `${name} probe warning: ${run.output}`);
        return { result: "success", errored: false };
      case "failure":
        this.o.logger.debug("probe failed", { ...log, output: run.output });
        this.o.events.emit(ref, "Warning", ProbeEventReason.Unhealthy, `${name} probe failed: ${run.output}`);
        return { result: "failure", errored: false };
      default:
        return { result: "failure", errored: false };
    }
  }

  /** upstream runProbe: one handler run. */
  private async runProbe(type: ProbeType, p: Probe, pod: Pod, status: PodStatus, container: Container, containerId: string): Promise<HandlerOutcome> {
    const timeoutSeconds = p.timeoutSeconds ?? 1;
    const simulated = this.o.runtime.simulatedProbe;
    if (simulated) {
      const r = simulated.call(this.o.runtime, containerId, type);
      return r === false ? outcome.failure("simulated probe failure") : outcome.success();
    }
    const podIP = status.podIP ?? "";
    if (p.exec) {
      const cmd = expandCommandOnlyStatic(p.exec.command ?? [], container.env);
      return execProbe(this.o.runtime, containerId, cmd, timeoutSeconds);
    }
    if (p.httpGet) {
      const req = newRequestForHttpGet(p.httpGet, container, podIP, "probe");
      if (!req.ok) return outcome.error(req.error);
      return httpProbe(req.request, timeoutSeconds * 1000);
    }
    if (p.tcpSocket) {
      const port = resolveContainerPort(p.tcpSocket.port, container);
      if (!port.ok) return outcome.error(port.error);
      return tcpProbe(p.tcpSocket.host || podIP, port.port, timeoutSeconds * 1000);
    }
    if (p.grpc) return grpcProbe(podIP, p.grpc.service ?? "", p.grpc.port, timeoutSeconds * 1000);
    return outcome.error(`missing probe handler for ${formatPod(pod)}:${container.name}`);
  }
}
