/**
 * The control-plane components `skiff server` runs beside the API server,
 * each as its own client of the API (HTTPS on loopback with its own client
 * certificate, as upstream's components run), so any of them could as well
 * run on another machine. `--disable NAME` leaves one out.
 */
import { configFromFiles } from "../client/config.js";
import { RestClient } from "../client/rest-client.js";
import { ControllerManager } from "../controllers/manager.js";
import type { Logger } from "../machinery/log.js";
import type { ClusterPki } from "../pki/cluster-pki.js";

/** Components `--disable` accepts. */
export const DISABLEABLE = ["controller-manager"] as const;

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
  readonly logger: Logger;
}

/** Starts the enabled components; the returned function stops them. */
export function startControlPlane(opts: ControlPlaneOptions): () => Promise<void> {
  const stop = new AbortController();
  const running: Promise<void>[] = [];
  const clients: RestClient[] = [];
  if (!opts.disabled.includes("controller-manager")) {
    const files = opts.pki.clients.kubeControllerManager;
    const rest = new RestClient(
      configFromFiles({ server: opts.server, caFile: opts.pki.serverCa.certFile, certFile: files.certFile, keyFile: files.keyFile, userAgent: "kube-controller-manager/skiff" }),
    );
    clients.push(rest);
    const log = opts.logger.with({ component: "controller-manager" });
    const manager = new ControllerManager({ rest, logger: log });
    running.push(manager.run(stop.signal).catch((err) => log.error("controller manager stopped", { err: (err as Error).message })));
  }
  return async () => {
    stop.abort();
    await Promise.all(running);
    for (const c of clients) c.close();
  };
}
