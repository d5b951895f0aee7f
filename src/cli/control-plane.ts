/**
 * The control-plane components `skiff server` runs beside the API server
 * (controller manager, scheduler), each as its own client of the API, so
 * any of them could as well run on another machine. They run on one worker
 * thread: the API server keeps the main thread's core, the components get
 * the other (a Node process is otherwise one core, where Go's components
 * in k3s use them all). `--disable NAME` leaves one out.
 */
import { readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import type { ControllerSettings } from "../controllers/manager.js";
import type { Logger } from "../machinery/log.js";
import type { ClusterPki } from "../pki/cluster-pki.js";
import { defaultSchedulerConfig } from "../scheduler/config/defaults.js";
import { loadSchedulerConfig } from "../scheduler/config/load.js";
import type { KubeSchedulerConfiguration } from "../scheduler/config/types.js";
import { newInTreeRegistry } from "../scheduler/plugins/registry.js";
import { buildProfiles } from "../scheduler/profile.js";
import type { ComponentsConfig } from "./control-plane-components.js";
import { workerEntry } from "./worker-entry.js";

/** Components `--disable` accepts. */
export const DISABLEABLE = ["controller-manager", "scheduler", "dns", "ingress", "servicelb", "registry"] as const;

/** k3s' names for the add-ons skiff builds in, so `--disable coredns,traefik` means what it does on k3s. */
const K3S_ALIASES: Readonly<Record<string, string>> = { coredns: "dns", traefik: "ingress" };

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
  // Build the profiles once now, as kube-scheduler does at start: unknown plugins fail here, not later.
  const built = buildProfiles(r.config, registry, { skipUnregisteredPlugins: true });
  if (!built.ok) throw new Error(`--scheduler-config ${file}: ${built.error}`);
  return r.config;
}

/** Checks `--disable` values (k3s aliases and comma lists allowed); returns skiff's names, or throws a message listing them. */
export function checkDisabled(names: readonly string[]): string[] {
  // Comma lists too, as k3s takes them (`--disable coredns,traefik`).
  const out = names.flatMap((n) => n.split(",")).map((n) => n.trim()).filter((n) => n !== "").map((n) => K3S_ALIASES[n] ?? n);
  for (const n of out) {
    if (!(DISABLEABLE as readonly string[]).includes(n)) throw new Error(`--disable: unknown component "${n}"; use one of: ${DISABLEABLE.join(", ")}`);
  }
  return out;
}

/** Options of {@link startControlPlane}. */
export interface ControlPlaneOptions {
  /** The API server URL components connect to (loopback). */
  readonly server: string;
  readonly pki: ClusterPki;
  readonly disabled: readonly string[];
  /** The scheduler's configuration (see {@link schedulerConfig}). */
  readonly schedulerConfig: KubeSchedulerConfiguration;
  /** Settings of the controller manager (cluster CIDR, node mask size). */
  readonly controllerSettings: ControllerSettings;
  readonly logger: Logger;
}

/** Starts the enabled components on a worker thread; the returned function stops them (and waits). */
export function startControlPlane(opts: ControlPlaneOptions): () => Promise<void> {
  const c = opts.pki.clients;
  const cfg: ComponentsConfig = {
    server: opts.server,
    caFile: opts.pki.serverCa.certFile,
    ...(opts.disabled.includes("controller-manager") ? {} : {
          controllerManager: {
            certFile: c.kubeControllerManager.certFile,
            keyFile: c.kubeControllerManager.keyFile,
            settings: opts.controllerSettings,
            ...(opts.disabled.includes("servicelb") ? { disabledControllers: ["service-lb-controller"] } : {}),
          },
        }),
    ...(opts.disabled.includes("scheduler") ? {} : { scheduler: { certFile: c.kubeScheduler.certFile, keyFile: c.kubeScheduler.keyFile, config: opts.schedulerConfig } }),
  };
  if (!cfg.controllerManager && !cfg.scheduler) return async () => {};
  const worker = new Worker(workerEntry("control-plane-worker"), { workerData: cfg });
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  let started = false;
  worker.once("message", (m) => {
    if (m === "started") started = true;
  });
  worker.on("error", (err) => opts.logger.error("control-plane components failed", { err: err.message }));
  return async () => {
    // A worker still loading its modules holds no Lease yet: end it now rather than wait for it to boot.
    if (!started) {
      await worker.terminate();
      return;
    }
    worker.postMessage("stop");
    const timer = setTimeout(() => void worker.terminate(), 10_000);
    await exited;
    clearTimeout(timer);
  };
}
