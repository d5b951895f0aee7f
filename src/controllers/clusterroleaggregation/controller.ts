/**
 * The ClusterRole aggregation controller, as upstream's
 * (pkg/controller/clusterroleaggregation): a ClusterRole with an
 * `aggregationRule` holds the union of the rules of the ClusterRoles its
 * selectors pick (`admin`, `edit` and `view` gather the
 * `rbac.authorization.k8s.io/aggregate-to-*` roles). Any ClusterRole change
 * queues every aggregated role; a sync rewrites its rules when they differ.
 */
import type { ClusterRole } from "kubernetes-types/rbac/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import { type ResourceDescriptor, ResourceClient } from "../../client/resource-client.js";
import type { RestClient } from "../../client/rest-client.js";
import { WorkQueue } from "../../client/work-queue.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { isNotFound } from "../../machinery/status-error.js";
import { errorMessage } from "../common/errors.js";
import { processNextWorkItem, runController } from "../common/workers.js";
import type { Controller, ControllerContext } from "../manager.js";
import { aggregatedRules, sameRules } from "./aggregate.js";

export const CLUSTER_ROLES: ResourceDescriptor = Object.freeze({ group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterroles", kind: "ClusterRole", namespaced: false });

/** Upstream runs this controller with 5 workers. */
const WORKERS = 5;

/** The write the controller makes; {@link restAggregationApi} for a real server. */
export interface AggregationApi {
  /** Sets the rules of a ClusterRole. */
  updateRules(role: ClusterRole, rules: ClusterRole["rules"]): Promise<void>;
}

/** Upstream's applyClusterRoles: server-side apply of just the rules, forced, as `clusterrole-aggregation-controller`. */
export function restAggregationApi(rest: RestClient): AggregationApi {
  const roles = new ResourceClient<ClusterRole>(rest, CLUSTER_ROLES);
  return {
    async updateRules(role, rules) {
      const name = role.metadata!.name!;
      const body = { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name }, rules: rules ?? [] };
      await roles.patch(name, body, { type: "apply", fieldManager: "clusterrole-aggregation-controller", force: true });
    },
  };
}

export interface ClusterRoleAggregationControllerOptions {
  readonly clusterRoleInformer: SharedInformer<ClusterRole>;
  readonly api: AggregationApi;
  readonly logger?: Logger;
}

export class ClusterRoleAggregationController implements Controller {
  readonly queue = new WorkQueue<string>();
  private readonly log: Logger;

  constructor(private readonly opts: ClusterRoleAggregationControllerOptions) {
    this.log = opts.logger ?? silentLogger;
    const enqueueAll = () => {
      for (const r of opts.clusterRoleInformer.list()) if (r.aggregationRule) this.queue.add(r.metadata!.name!);
    };
    opts.clusterRoleInformer.addEventHandler({ onAdd: enqueueAll, onUpdate: enqueueAll, onDelete: enqueueAll });
  }

  async run(signal: AbortSignal): Promise<void> {
    return runController(signal, {
      name: "clusterrole-aggregation",
      log: this.log,
      queues: [this.queue],
      informers: [this.opts.clusterRoleInformer],
      workers: WORKERS,
      processNextWorkItem: () =>
        processNextWorkItem(
          this.queue,
          (name) => this.sync(name),
          (name, err) => {
            this.log.error("error aggregating ClusterRole, will retry", { clusterrole: name, err: errorMessage(err) });
            this.queue.addRateLimited(name);
          },
        ),
    });
  }

  /** Upstream's syncClusterRole. */
  async sync(name: string): Promise<void> {
    const role = this.opts.clusterRoleInformer.get(name);
    if (!role?.aggregationRule) return;
    const rules = aggregatedRules(role, this.opts.clusterRoleInformer.list());
    if (!rules || sameRules(rules, role.rules)) return;
    try {
      await this.opts.api.updateRules(role, rules);
      this.log.debug("aggregated ClusterRole", { clusterrole: name, rules: rules.length });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }
}

/** The `clusterrole-aggregation` controller of a controller manager. */
export function newClusterRoleAggregationController(ctx: ControllerContext): ClusterRoleAggregationController {
  return new ClusterRoleAggregationController({
    clusterRoleInformer: ctx.informers.informerFor<ClusterRole>(CLUSTER_ROLES),
    api: restAggregationApi(ctx.rest),
    logger: ctx.logger.with({ controller: "clusterrole-aggregation" }),
  });
}
