/**
 * The ServiceAccount controller (`serviceaccount`), as upstream's
 * pkg/controller/serviceaccount/serviceaccounts_controller.go: every
 * active namespace has a `default` ServiceAccount, made when the namespace
 * appears and again whenever it is deleted.
 */
import type { Namespace, ServiceAccount } from "kubernetes-types/core/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import { ResourceClient } from "../../client/resource-client.js";
import { NAMESPACES, SERVICE_ACCOUNTS } from "../../client/resources.js";
import type { RestClient } from "../../client/rest-client.js";
import { WorkQueue } from "../../client/work-queue.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { isAlreadyExists } from "../../machinery/status-error.js";
import type { Controller, ControllerContext } from "../manager.js";
import { isNamespaceTerminating, runKeyedWorkers } from "./keyed-worker.js";

/** The ServiceAccounts every namespace gets (upstream's DefaultServiceAccountsControllerOptions). */
export const SERVICE_ACCOUNTS_TO_ENSURE: readonly string[] = ["default"];

/** What the controller writes; {@link restServiceAccountsApi} for a real server. */
export interface ServiceAccountsApi {
  createServiceAccount(namespace: string, sa: ServiceAccount): Promise<void>;
}

export function restServiceAccountsApi(rest: RestClient): ServiceAccountsApi {
  const sas = new ResourceClient<ServiceAccount>(rest, SERVICE_ACCOUNTS);
  return {
    createServiceAccount: async (ns, sa) => {
      await sas.namespace(ns).create(sa);
    },
  };
}

export interface ServiceAccountsControllerOptions {
  readonly serviceAccounts: SharedInformer<ServiceAccount>;
  readonly namespaces: SharedInformer<Namespace>;
  readonly api: ServiceAccountsApi;
  readonly logger?: Logger;
}

export class ServiceAccountsController implements Controller {
  /** Namespace names to check. */
  readonly queue = new WorkQueue<string>();
  private readonly log: Logger;

  constructor(private readonly o: ServiceAccountsControllerOptions) {
    this.log = o.logger ?? silentLogger;
    o.serviceAccounts.addEventHandler({
      onDelete: (sa) => {
        if (SERVICE_ACCOUNTS_TO_ENSURE.includes(sa.metadata?.name ?? "")) this.queue.add(sa.metadata?.namespace ?? "");
      },
    });
    o.namespaces.addEventHandler({
      onAdd: (ns) => this.queue.add(ns.metadata?.name ?? ""),
      onUpdate: (_old, ns) => this.queue.add(ns.metadata?.name ?? ""),
    });
  }

  run(signal: AbortSignal): Promise<void> {
    return runKeyedWorkers({
      name: "serviceaccount",
      queues: [{ queue: this.queue, sync: (key) => this.syncNamespace(key) }],
      informers: [this.o.serviceAccounts, this.o.namespaces],
      workers: 1,
      logger: this.log,
      signal,
    });
  }

  /** Makes the missing ServiceAccounts of an active namespace. */
  async syncNamespace(name: string): Promise<void> {
    const ns = this.o.namespaces.get(name);
    // Nothing is made in a namespace that is gone or going.
    if (ns?.status?.phase !== "Active") return;
    const failures: string[] = [];
    for (const saName of SERVICE_ACCOUNTS_TO_ENSURE) {
      if (this.o.serviceAccounts.get(`${name}/${saName}`)) continue;
      try {
        await this.o.api.createServiceAccount(name, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: saName, namespace: name } });
        this.log.debug("created service account", { serviceAccount: `${name}/${saName}` });
      } catch (err) {
        if (isAlreadyExists(err) || isNamespaceTerminating(err)) continue;
        failures.push((err as Error).message);
      }
    }
    if (failures.length > 0) throw new Error(failures.join(", "));
  }
}

/** The `serviceaccount` controller of a controller manager. */
export function newServiceAccountsController(ctx: ControllerContext): ServiceAccountsController {
  return new ServiceAccountsController({
    serviceAccounts: ctx.informers.informerFor<ServiceAccount>(SERVICE_ACCOUNTS),
    namespaces: ctx.informers.informerFor<Namespace>(NAMESPACES),
    api: restServiceAccountsApi(ctx.rest),
    logger: ctx.logger.with({ controller: "serviceaccount" }),
  });
}
