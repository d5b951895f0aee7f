/**
 * How the node lifecycle controller decides a node has gone silent, as
 * upstream's tryUpdateNodeHealth: it remembers, per node, when (by its own
 * clock, never the kubelet's) it last saw a new heartbeat — a Ready
 * condition with a new lastHeartbeatTime, or a node Lease with a later
 * renewTime — and once that is longer ago than the grace period it sets
 * Ready, MemoryPressure, DiskPressure and PIDPressure to Unknown.
 */
import type { Lease } from "kubernetes-types/coordination/v1.js";
import type { Node, NodeCondition, NodeStatus } from "kubernetes-types/core/v1.js";
import type { Logger } from "../../machinery/log.js";
import { deepEqual } from "../common/equality.js";
import { parseTime, rfc3339 } from "../common/time.js";
import { getNodeCondition } from "./node-utils.js";

/** What the controller remembers of a node (upstream's nodeHealthData). */
export interface NodeHealthData {
  /** Controller-clock time of the last new heartbeat (epoch ms). */
  probeTimestamp: number;
  /** Controller-clock time the Ready condition was last seen to change. */
  readyTransitionTimestamp: number;
  /** The node status last observed. */
  status: NodeStatus | undefined;
  /** The node Lease last observed. */
  lease: Lease | undefined;
}

/** The conditions the controller turns Unknown (NetworkUnavailable is the network plugin's, not the kubelet's). */
export const KUBELET_CONDITION_TYPES: readonly string[] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/** The grace periods of {@link observeNodeHealth}. */
export interface HealthGracePeriods {
  readonly nodeMonitorGracePeriodMs: number;
  readonly nodeStartupGracePeriodMs: number;
}

/** The outcome of one look at a node. */
export interface NodeHealthObservation {
  /** The grace period the node is entitled to. */
  readonly gracePeriodMs: number;
  /** The Ready condition as the node had it (a synthetic Unknown one when it had none). */
  readonly observedReadyCondition: NodeCondition;
  /** The Ready condition now (after any change to Unknown); undefined when the node has none. */
  readonly currentReadyCondition: NodeCondition | undefined;
  /** What to remember of the node. */
  readonly health: NodeHealthData;
  /** The node Lease seen. */
  readonly lease: Lease | undefined;
  /** The node's status was changed (conditions set Unknown) and must be written. */
  readonly statusChanged: boolean;
}

/** A MicroTime as microseconds since the epoch (NaN when absent or malformed). */
export function microTime(t: string | null | undefined): number {
  if (!t) return Number.NaN;
  const m = /^(.*?)(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(t);
  if (!m) return Number.NaN;
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  const frac = (m[2] ?? "").padEnd(6, "0").slice(0, 6);
  return seconds * 1000 + Number(frac);
}

/** MicroTime.Before on possibly-missing times: false unless both are there. */
function renewedBefore(a: Lease | undefined, b: Lease): boolean {
  const x = microTime(a?.spec?.renewTime);
  const y = microTime(b.spec?.renewTime);
  return !Number.isNaN(x) && !Number.isNaN(y) && x < y;
}

/**
 * Looks at `node` (a copy the caller owns: its conditions are changed in
 * place when the node has gone silent) against what was remembered.
 */
export function observeNodeHealth(
  node: Node,
  saved: NodeHealthData | undefined,
  lease: Lease | undefined,
  nowMs: number,
  grace: HealthGracePeriods,
  log: Logger,
): NodeHealthObservation {
  const name = node.metadata?.name ?? "";
  // The caller's copy: its status is changed in place, as upstream changes its copy.
  const mutable = node as { status?: NodeStatus };
  mutable.status ??= {};
  const status: NodeStatus = mutable.status;
  const created = parseTime(node.metadata?.creationTimestamp);
  let health = saved ? { ...saved } : undefined;
  let gracePeriodMs: number;
  let observed: NodeCondition;
  let current = getNodeCondition(status, "Ready");
  if (!current) {
    // The kubelet (or this controller) never posted a status: pretend an Unknown one from creation.
    const ts = node.metadata?.creationTimestamp;
    observed = { type: "Ready", status: "Unknown", ...(ts ? { lastHeartbeatTime: ts, lastTransitionTime: ts } : {}) };
    gracePeriodMs = grace.nodeStartupGracePeriodMs;
    if (health) health.status = status;
    else health = { status, probeTimestamp: created, readyTransitionTimestamp: created, lease: undefined };
  } else {
    observed = { ...current };
    gracePeriodMs = grace.nodeMonitorGracePeriodMs;
  }

  const savedCondition = health ? getNodeCondition(health.status, "Ready") : undefined;
  const savedLease = health?.lease;
  if (!health) {
    log.debug("missing timestamp for node; assuming now as a timestamp", { node: name });
    health = { status, probeTimestamp: nowMs, readyTransitionTimestamp: nowMs, lease: undefined };
  } else if (!savedCondition && current) {
    log.debug("creating timestamp entry for newly observed node", { node: name });
    health = { status, probeTimestamp: nowMs, readyTransitionTimestamp: nowMs, lease: undefined };
  } else if (savedCondition && !current) {
    log.error("ReadyCondition was removed from status of node", { node: name });
    health = { status, probeTimestamp: nowMs, readyTransitionTimestamp: nowMs, lease: undefined };
  } else if (savedCondition && current && savedCondition.lastHeartbeatTime !== current.lastHeartbeatTime) {
    // A new heartbeat; the transition time moves only when the condition itself changed.
    const transition = savedCondition.lastTransitionTime !== current.lastTransitionTime ? nowMs : health.readyTransitionTimestamp;
    log.debug("node ReadyCondition updated; updating timestamp", { node: name });
    health = { status, probeTimestamp: nowMs, readyTransitionTimestamp: transition, lease: undefined };
  }

  // A renewed Lease is a heartbeat too: a kubelet that renews its Lease but never posts status counts as healthy.
  if (lease && (!savedLease || renewedBefore(savedLease, lease))) {
    health.lease = lease;
    health.probeTimestamp = nowMs;
  }

  let statusChanged = false;
  if (nowMs > health.probeTimestamp + gracePeriodMs) {
    const nowTs = rfc3339(nowMs);
    status.conditions ??= [];
    for (const type of KUBELET_CONDITION_TYPES) {
      const c = getNodeCondition(status, type);
      if (!c) {
        log.debug("condition of node was never updated by kubelet", { node: name, conditionType: type });
        status.conditions.push({
          type,
          status: "Unknown",
          reason: "NodeStatusNeverUpdated",
          message: "Kubelet never posted node status.",
          ...(node.metadata?.creationTimestamp ? { lastHeartbeatTime: node.metadata.creationTimestamp } : {}),
          lastTransitionTime: nowTs,
        });
      } else if (c.status !== "Unknown") {
        log.debug("node hasn't been updated", { node: name, conditionType: type, silentMs: nowMs - health.probeTimestamp });
        c.status = "Unknown";
        c.reason = "NodeStatusUnknown";
        c.message = "Kubelet stopped posting node status.";
        c.lastTransitionTime = nowTs;
      }
    }
    current = getNodeCondition(status, "Ready");
    statusChanged = !deepEqual(current, observed);
  }
  return { gracePeriodMs, observedReadyCondition: observed, currentReadyCondition: current, health, lease, statusChanged };
}
