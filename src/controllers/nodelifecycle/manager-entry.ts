/**
 * The `nodelifecycle` entry of the controller manager: the node lifecycle
 * controller (events as `node-controller`) together with the taint eviction
 * controller (events as `taint-eviction-controller`) that acts on its
 * NoExecute taints, sharing the manager's node, pod and node-Lease
 * informers — upstream's layout with the taint manager run by the node
 * lifecycle controller.
 */
import type { Lease } from "kubernetes-types/coordination/v1.js";
import type { Node, Pod } from "kubernetes-types/core/v1.js";
import { LEASES, NODES, PODS } from "../../client/resources.js";
import type { Controller, ControllerContext } from "../manager.js";
import { restLifecycleApi } from "./api.js";
import { NODE_LEASE_NAMESPACE, NodeLifecycleController } from "./controller.js";
import { TAINT_EVICTION_CONTROLLER_NAME, TaintEvictionController } from "./taint-eviction.js";

/** Builds both controllers from the manager's context; settings come from `ctx.settings`. */
export function newNodeLifecycleController(ctx: ControllerContext): Controller {
  const nodes = ctx.informers.informerFor<Node>(NODES);
  const pods = ctx.informers.informerFor<Pod>(PODS);
  const leases = ctx.informers.informerFor<Lease>(LEASES, { namespace: NODE_LEASE_NAMESPACE });
  const api = restLifecycleApi(ctx.rest);
  const s = ctx.settings;
  const lifecycle = new NodeLifecycleController({
    nodes,
    pods,
    leases,
    api,
    recorder: ctx.recorder("node-controller"),
    settings: {
      nodeMonitorPeriodMs: s.nodeMonitorPeriodMs,
      nodeMonitorGracePeriodMs: s.nodeMonitorGracePeriodMs,
      nodeStartupGracePeriodMs: s.nodeStartupGracePeriodMs,
      nodeEvictionRate: s.nodeEvictionRate,
      secondaryNodeEvictionRate: s.secondaryNodeEvictionRate,
      largeClusterSizeThreshold: s.largeClusterSizeThreshold,
      unhealthyZoneThreshold: s.unhealthyZoneThreshold,
    },
    logger: ctx.logger,
  });
  const taintEviction = new TaintEvictionController({ nodes, pods, api, recorder: ctx.recorder(TAINT_EVICTION_CONTROLLER_NAME), logger: ctx.logger });
  return {
    async run(signal) {
      await Promise.all([lifecycle.run(signal), taintEviction.run(signal)]);
    },
  };
}
