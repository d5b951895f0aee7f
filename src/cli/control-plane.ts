/**
 * The control-plane components `skiff server` runs beside the API server,
 * each as its own client of the API (HTTPS on loopback with its own client
 * certificate, as upstream's components run), so any of them could as well
 * run on another machine. `--disable NAME` leaves one out.
 */
import { readFileSync } from "node:fs";
import { configFromFiles } from "../client/config.js";
import { EventRecorder } from "../client/event-recorder.js";
import { RestClient } from "../client/rest-client.js";
import { runWhileLeading } from "../client/run-while-leading.js";
import { ControllerManager } from "../controllers/manager.js";
import type { Logger } from "../machinery/log.js";
import type { ClusterPki, PkiFiles } from "../pki/cluster-pki.js";
import { defaultSchedulerConfig } from "../scheduler/config/defaults.js";
import { loadSchedulerConfig } from "../scheduler/config/load.js";
import type { KubeSchedulerConfiguration } from "../scheduler/config/types.js";
import { newInTreeRegistry } from "../scheduler/plugins/registry.js";
import { Scheduler } from "../scheduler/scheduler.js";

/** Components `--disable` accepts. */
export const DISABLEABLE = ["controller-manager", "scheduler"] as const;

/**
 * Reads `--scheduler-config` (KubeSchedulerConfiguration v1), or the default
 * configuration; throws a message naming the file and the problem.
 */
export function schedulerConfig(file: string | undefined): KubeSchedulerConfiguration {
  const registry = newInTreeRegistry();
  if (!file) return defaultSchedulerConfig(registry);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`--scheduler-config ${file}: ${(err as Error).message}`);
  }
  const r = loadSchedulerConfig(text, registry);
  if (!r.ok) throw new Error(`--scheduler-config ${file}: ${r.error}`);
  return r.config;
}

/** Checks `--disable` values; throws a message listing the known names. */
export function checkDisabled(names: readonly string[]): void {
  for (const n of names) {
    if (!(DISABLEABLE as readonly string[]).includes(n)) throw new Error(`--disable: unknown component "${n}"; use one of: ${DISABLEABLE.join(", ")}`);
  }
}

/** Options of {@link startControlPlane}. */
export interface ControlPlaneOptions {
  /** The API server URL components connect to (loopback). */
  readonly server: string;
  readonly pki: ClusterPki;
  readonly disabled: readonly string[];
  /** The scheduler's configuration (see {@link schedulerConfig}). */
  readonly schedulerConfig: KubeSchedulerConfiguration;
  readonly logger: Logger;
}

/** Starts the enabled components; the returned function stops them. */
export function startControlPlane(opts: ControlPlaneOptions): () => Promise<void> {
  const stop = new AbortController();
  const running: Promise<void>[] = [];
  const clients: RestClient[] = [];
  const clientFor = (files: PkiFiles, userAgent: string) => {
    const rest = new RestClient(
      configFromFiles({ server: opts.server, caFile: opts.pki.serverCa.certFile, certFile: files.certFile, keyFile: files.keyFile, userAgent }),
    );
    clients.push(rest);
    return rest;
  };
  if (!opts.disabled.includes("controller-manager")) {
    const rest = clientFor(opts.pki.clients.kubeControllerManager, "kube-controller-manager/skiff");
    const log = opts.logger.with({ component: "controller-manager" });
    const manager = new ControllerManager({ rest, logger: log });
    running.push(manager.run(stop.signal).catch((err) => log.error("controller manager stopped", { err: (err as Error).message })));
  }
  if (!opts.disabled.includes("scheduler")) {
    const rest = clientFor(opts.pki.clients.kubeScheduler, "kube-scheduler/skiff");
    const log = opts.logger.with({ component: "scheduler" });
    const work = async (leading: AbortSignal) => {
      const recorder = new EventRecorder({ sink: rest, reportingController: "default-scheduler", logger: log });
      try {
        await new Scheduler({ rest, config: opts.schedulerConfig, recorder, logger: log }).run(leading);
      } finally {
        await recorder.shutdown();
      }
    };
    running.push(runWhileLeading({ rest, lease: "kube-scheduler", logger: log }, stop.signal, work).catch((err) => log.error("scheduler stopped", { err: (err as Error).message })));
  }
  return async () => {
    stop.abort();
    await Promise.all(running);
    for (const c of clients) c.close();
  };
}
