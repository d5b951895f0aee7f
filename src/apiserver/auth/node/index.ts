/**
 * The Node authorizer and its graph, for the API server's authorizer chain
 * (Node before RBAC, as kube-apiserver's `--authorization-mode=Node,RBAC`).
 */
import { type Logger, silentLogger } from "../../../machinery/log.js";
import type { Authorizer } from "../authz.js";
import { NodeGraph } from "./graph.js";
import { GraphPopulator, type WatchableObjects } from "./graph-populator.js";
import { NodeAuthorizer } from "./node-authorizer.js";

export { NodeGraph } from "./graph.js";
export { NodeAuthorizer, NAMESPACE_NODE_LEASE } from "./node-authorizer.js";
export { nodeIdentity, NODE_USER_PREFIX, NODES_GROUP } from "./node-identity.js";
export type { WatchableObjects } from "./graph-populator.js";

export interface NodeAuthorizerOptions {
  /** The pods and PersistentVolumes the graph follows (the API server's ObjectStores). */
  readonly pods: WatchableObjects;
  readonly persistentVolumes: WatchableObjects;
  readonly logger?: Logger;
}

/** A Node authorizer; `start` fills its graph (await it before serving), `stop` ends the watches. */
export interface RunningNodeAuthorizer extends Authorizer {
  start(): Promise<void>;
  stop(): void;
  readonly graph: NodeGraph;
}

export function createNodeAuthorizer(opts: NodeAuthorizerOptions): RunningNodeAuthorizer {
  const log = opts.logger ?? silentLogger;
  const graph = new NodeGraph();
  const authorizer = new NodeAuthorizer(graph, log);
  const populator = new GraphPopulator(graph, { pods: opts.pods, persistentVolumes: opts.persistentVolumes }, log);
  return {
    graph,
    authorize: (user, info) => authorizer.authorize(user, info),
    start: () => populator.start(),
    stop: () => populator.stop(),
  };
}
