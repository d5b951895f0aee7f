/**
 * The control-plane components beside the API server, each its own client
 * of the API (HTTPS with its own client certificate, as upstream's
 * components run), each leader-elected on its Lease: the controller manager
 * and the scheduler. {@link runComponents} runs them in whatever thread
 * calls it; `skiff server` calls it on a worker thread (control-plane.ts).
 */
import { configFromFiles } from "../client/config.js";
import { EventRecorder } from "../client/event-recorder.js";
import { RestClient } from "../client/rest-client.js";
import { runWhileLeading } from "../client/run-while-leading.js";
import { CONTROLLERS, ControllerManager, type ControllerSettings } from "../controllers/manager.js";
import type { Logger } from "../machinery/log.js";
import type { KubeSchedulerConfiguration } from "../scheduler/config/types.js";
import { Scheduler } from "../scheduler/scheduler.js";

/** A client certificate and key, as files. */
export interface ClientFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** What the components need; plain data, so it crosses to a worker thread. */
export interface ComponentsConfig {
  /** The API server URL (loopback). */
  readonly server: string;
  /** The CA that signed the API server's certificate. */
  readonly caFile: string;
  /** `disabledControllers`: controllers not to run (`--disable servicelb`). */
  readonly controllerManager?: ClientFiles & { readonly settings: ControllerSettings; readonly disabledControllers?: readonly string[] };
  /** With the scheduler's (defaulted, validated) configuration. */
  readonly scheduler?: ClientFiles & { readonly config: KubeSchedulerConfiguration };
}

/** Runs the configured components until `signal` aborts, then closes their clients. */
export async function runComponents(cfg: ComponentsConfig, log: Logger, signal: AbortSignal): Promise<void> {
  const clients: RestClient[] = [];
  const clientFor = (files: ClientFiles, userAgent: string) => {
    const rest = new RestClient(configFromFiles({ server: cfg.server, caFile: cfg.caFile, certFile: files.certFile, keyFile: files.keyFile, userAgent }));
    clients.push(rest);
    return rest;
  };
  const running: Promise<void>[] = [];
  if (cfg.controllerManager) {
    const rest = clientFor(cfg.controllerManager, "kube-controller-manager/skiff");
    const cmLog = log.with({ component: "controller-manager" });
    running.push(new ControllerManager({ rest, logger: cmLog, settings: cfg.controllerManager.settings, ...(cfg.controllerManager.disabledControllers ? { controllers: Object.keys(CONTROLLERS).filter((n) => !cfg.controllerManager!.disabledControllers!.includes(n)) } : {}) }).run(signal).catch((err) => cmLog.error("controller manager stopped", { err: (err as Error).message })));
  }
  if (cfg.scheduler) {
    const sched = cfg.scheduler;
    const rest = clientFor(sched, "kube-scheduler/skiff");
    const sLog = log.with({ component: "scheduler" });
    const work = async (leading: AbortSignal) => {
      const recorder = new EventRecorder({ sink: rest, reportingController: "default-scheduler", logger: sLog });
      try {
        await new Scheduler({ rest, config: sched.config, recorder, logger: sLog }).run(leading);
      } finally {
        await recorder.shutdown();
      }
    };
    running.push(runWhileLeading({ rest, lease: "kube-scheduler", logger: sLog }, signal, work).catch((err) => sLog.error("scheduler stopped", { err: (err as Error).message })));
  }
  await Promise.all(running);
  for (const c of clients) c.close();
}
