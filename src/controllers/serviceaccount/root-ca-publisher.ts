/**
 * The root CA publisher (`root-ca-cert-publisher`), as upstream's
 * pkg/controller/certificates/rootcacertpublisher: every namespace has a
 * ConfigMap `kube-root-ca.crt` whose `ca.crt` is the CA bundle clients use
 * to verify the API server (kube-controller-manager's --root-ca-file, else
 * the CA of its own client configuration), put back when changed or deleted.
 */
import type { ConfigMap, Namespace } from "kubernetes-types/core/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import { ResourceClient } from "../../client/resource-client.js";
import { CONFIGMAPS, NAMESPACES } from "../../client/resources.js";
import type { RestClient } from "../../client/rest-client.js";
import { WorkQueue } from "../../client/work-queue.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { isNotFound } from "../../machinery/status-error.js";
import type { Controller, ControllerContext } from "../manager.js";
import { isNamespaceTerminating, runKeyedWorkers } from "./keyed-worker.js";
import { readFileSync } from "node:fs";

export const ROOT_CA_CONFIGMAP_NAME = "kube-root-ca.crt";
export const DESCRIPTION_ANNOTATION = "kubernetes.io/description";
export const DESCRIPTION =
  "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/** What the publisher writes; {@link restRootCaApi} for a real server. */
export interface RootCaApi {
  createConfigMap(namespace: string, cm: ConfigMap): Promise<void>;
  updateConfigMap(namespace: string, cm: ConfigMap): Promise<void>;
}

export function restRootCaApi(rest: RestClient): RootCaApi {
  const cms = new ResourceClient<ConfigMap>(rest, CONFIGMAPS);
  return {
    createConfigMap: async (ns, cm) => {
      await cms.namespace(ns).create(cm);
    },
    updateConfigMap: async (ns, cm) => {
      await cms.namespace(ns).update(cm);
    },
  };
}

export interface RootCaPublisherOptions {
  /** Only the `kube-root-ca.crt` ConfigMaps are needed (a field-selected informer). */
  readonly configMaps: SharedInformer<ConfigMap>;
  readonly namespaces: SharedInformer<Namespace>;
  readonly api: RootCaApi;
  /** The PEM bundle to publish. */
  readonly rootCA: string;
  readonly logger?: Logger;
}

function sameData(a: Record<string, string> | undefined, b: Record<string, string>): boolean {
  const ak = Object.keys(a ?? {});
  return ak.length === Object.keys(b).length && ak.every((k) => a![k] === b[k]);
}

export class RootCaPublisher implements Controller {
  /** Namespace names to check. */
  readonly queue = new WorkQueue<string>();
  private readonly log: Logger;

  constructor(private readonly o: RootCaPublisherOptions) {
    this.log = o.logger ?? silentLogger;
    const onCm = (cm: ConfigMap) => {
      if (cm.metadata?.name === ROOT_CA_CONFIGMAP_NAME) this.queue.add(cm.metadata.namespace ?? "");
    };
    o.configMaps.addEventHandler({ onUpdate: (_old, cm) => onCm(cm), onDelete: onCm });
    o.namespaces.addEventHandler({
      onAdd: (ns) => this.queue.add(ns.metadata?.name ?? ""),
      onUpdate: (_old, ns) => this.queue.add(ns.metadata?.name ?? ""),
    });
  }

  run(signal: AbortSignal): Promise<void> {
    return runKeyedWorkers({
      name: "root-ca-cert-publisher",
      queues: [{ queue: this.queue, sync: (key) => this.syncNamespace(key) }],
      informers: [this.o.configMaps, this.o.namespaces],
      workers: 1,
      logger: this.log,
      signal,
    });
  }

  /** upstream syncNamespace: create the ConfigMap, or put its data and description back. */
  async syncNamespace(ns: string): Promise<void> {
    const namespace = this.o.namespaces.get(ns);
    if (!namespace || namespace.metadata?.deletionTimestamp || namespace.status?.phase === "Terminating") return;
    const data = { "ca.crt": this.o.rootCA };
    const cm = this.o.configMaps.get(`${ns}/${ROOT_CA_CONFIGMAP_NAME}`);
    if (!cm) {
      try {
        await this.o.api.createConfigMap(ns, {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: ROOT_CA_CONFIGMAP_NAME, namespace: ns, annotations: { [DESCRIPTION_ANNOTATION]: DESCRIPTION } },
          data,
        });
      } catch (err) {
        // Not retried when the namespace is gone or going, as upstream.
        if (isNotFound(err) || isNamespaceTerminating(err)) return;
        // Already there (the cache is behind): the update event brings it back here.
        if ((err as { reason?: string }).reason === "AlreadyExists") return;
        throw err;
      }
      return;
    }
    if (sameData(cm.data, data) && cm.metadata?.annotations?.[DESCRIPTION_ANNOTATION]) return;
    await this.o.api.updateConfigMap(ns, {
      ...cm,
      data,
      metadata: { ...cm.metadata, annotations: { ...(cm.metadata?.annotations ?? {}), [DESCRIPTION_ANNOTATION]: DESCRIPTION } },
    });
  }
}

/** The CA bundle to publish: --root-ca-file, else the controller manager's own client CA. */
export function rootCaOf(ctx: ControllerContext): string {
  const file = ctx.settings.rootCaFile;
  if (file) return readFileSync(file, "utf8");
  return ctx.rest.config.caPem ?? "";
}

/** The `root-ca-cert-publisher` controller of a controller manager. */
export function newRootCaPublisher(ctx: ControllerContext): Controller {
  const log = ctx.logger.with({ controller: "root-ca-cert-publisher" });
  const rootCA = rootCaOf(ctx);
  if (!rootCA) {
    // Upstream does not start the controller without a CA to publish.
    return {
      run: async () => {
        log.warn("no root CA to publish (no --root-ca-file and no client CA); not starting", {});
      },
    };
  }
  return new RootCaPublisher({
    configMaps: ctx.informers.informerFor<ConfigMap>(CONFIGMAPS, { fieldSelector: `metadata.name=${ROOT_CA_CONFIGMAP_NAME}` }),
    namespaces: ctx.informers.informerFor<Namespace>(NAMESPACES),
    api: restRootCaApi(ctx.rest),
    rootCA,
    logger: log,
  });
}
