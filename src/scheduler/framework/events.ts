/**
 * Cluster events (framework.ClusterEvent, v1.30): what changed in the
 * cluster, as a resource and a bitmask of action types. Plugins register the
 * events that may make a pod they rejected schedulable (EnqueueExtensions),
 * and the queue moves a rejected pod only on an event its rejecting plugins
 * registered.
 */
import type { Node } from "kubernetes-types/core/v1.js";
import { quantityFor } from "./resource.js";

/** ActionType bits. Update is the union of the node-specific update kinds. */
export const ActionType = {
  Add: 1,
  Delete: 2,
  UpdateNodeAllocatable: 4,
  UpdateNodeLabel: 8,
  UpdateNodeTaint: 16,
  UpdateNodeCondition: 32,
  UpdateNodeAnnotation: 64,
  /** Every action. */
  All: 127,
  /** Any update: use it when the kind of update does not matter. */
  Update: 4 | 8 | 16 | 32 | 64,
} as const;

export type ActionType = number;

/** EventResource: the kind of object an event is about ("*" for any). */
export const EventResource = {
  Pod: "Pod",
  Node: "Node",
  PersistentVolume: "PersistentVolume",
  PersistentVolumeClaim: "PersistentVolumeClaim",
  PodSchedulingContext: "PodSchedulingContext",
  ResourceClaim: "ResourceClaim",
  ResourceClass: "ResourceClass",
  CSINode: "storage.k8s.io/CSINode",
  CSIDriver: "storage.k8s.io/CSIDriver",
  CSIStorageCapacity: "storage.k8s.io/CSIStorageCapacity",
  StorageClass: "storage.k8s.io/StorageClass",
  WildCard: "*",
} as const;

export type EventResource = string;

export interface ClusterEvent {
  readonly resource: EventResource;
  readonly actionType: ActionType;
  /** A human-readable name of the event, e.g. "NodeAdd" (metrics and logs only). */
  readonly label?: string;
}

/** What a plugin returns from eventsToRegister(). QueueingHints are off in v1.30, so every registered event means "requeue". */
export interface ClusterEventWithHint {
  readonly event: ClusterEvent;
}

/** IsWildCard: resource "*" with every action. */
export function isWildCardEvent(e: ClusterEvent): boolean {
  return e.resource === EventResource.WildCard && e.actionType === ActionType.All;
}

/** ClusterEvent.Match: whether a registered event `registered` covers the incoming `event`. */
export function matchClusterEvent(registered: ClusterEvent, event: ClusterEvent): boolean {
  return (
    isWildCardEvent(registered) ||
    ((registered.resource === EventResource.WildCard || registered.resource === event.resource) && (registered.actionType & event.actionType) !== 0)
  );
}

/** A stable string key for an event (resource and action bits), for maps. */
export function eventKey(e: ClusterEvent): string {
  return `${e.resource}/${e.actionType}`;
}

// The events the informer wiring reports (pkg/scheduler/internal/queue/events.go).
export const AssignedPodAdd: ClusterEvent = { resource: EventResource.Pod, actionType: ActionType.Add, label: "AssignedPodAdd" };
export const NodeAdd: ClusterEvent = { resource: EventResource.Node, actionType: ActionType.Add, label: "NodeAdd" };
export const AssignedPodUpdate: ClusterEvent = { resource: EventResource.Pod, actionType: ActionType.Update, label: "AssignedPodUpdate" };
export const AssignedPodDelete: ClusterEvent = { resource: EventResource.Pod, actionType: ActionType.Delete, label: "AssignedPodDelete" };
export const NodeSpecUnschedulableChange: ClusterEvent = { resource: EventResource.Node, actionType: ActionType.UpdateNodeTaint, label: "NodeSpecUnschedulableChange" };
export const NodeAllocatableChange: ClusterEvent = { resource: EventResource.Node, actionType: ActionType.UpdateNodeAllocatable, label: "NodeAllocatableChange" };
export const NodeLabelChange: ClusterEvent = { resource: EventResource.Node, actionType: ActionType.UpdateNodeLabel, label: "NodeLabelChange" };
export const NodeAnnotationChange: ClusterEvent = { resource: EventResource.Node, actionType: ActionType.UpdateNodeAnnotation, label: "NodeAnnotationChange" };
export const NodeTaintChange: ClusterEvent = { resource: EventResource.Node, actionType: ActionType.UpdateNodeTaint, label: "NodeTaintChange" };
export const NodeConditionChange: ClusterEvent = { resource: EventResource.Node, actionType: ActionType.UpdateNodeCondition, label: "NodeConditionChange" };
export const PvAdd: ClusterEvent = { resource: EventResource.PersistentVolume, actionType: ActionType.Add, label: "PvAdd" };
export const PvUpdate: ClusterEvent = { resource: EventResource.PersistentVolume, actionType: ActionType.Update, label: "PvUpdate" };
export const PvcAdd: ClusterEvent = { resource: EventResource.PersistentVolumeClaim, actionType: ActionType.Add, label: "PvcAdd" };
export const PvcUpdate: ClusterEvent = { resource: EventResource.PersistentVolumeClaim, actionType: ActionType.Update, label: "PvcUpdate" };
export const StorageClassAdd: ClusterEvent = { resource: EventResource.StorageClass, actionType: ActionType.Add, label: "StorageClassAdd" };
export const StorageClassUpdate: ClusterEvent = { resource: EventResource.StorageClass, actionType: ActionType.Update, label: "StorageClassUpdate" };
export const CSINodeAdd: ClusterEvent = { resource: EventResource.CSINode, actionType: ActionType.Add, label: "CSINodeAdd" };
export const CSINodeUpdate: ClusterEvent = { resource: EventResource.CSINode, actionType: ActionType.Update, label: "CSINodeUpdate" };
export const CSIDriverAdd: ClusterEvent = { resource: EventResource.CSIDriver, actionType: ActionType.Add, label: "CSIDriverAdd" };
export const CSIDriverUpdate: ClusterEvent = { resource: EventResource.CSIDriver, actionType: ActionType.Update, label: "CSIDriverUpdate" };
export const CSIStorageCapacityAdd: ClusterEvent = { resource: EventResource.CSIStorageCapacity, actionType: ActionType.Add, label: "CSIStorageCapacityAdd" };
export const CSIStorageCapacityUpdate: ClusterEvent = { resource: EventResource.CSIStorageCapacity, actionType: ActionType.Update, label: "CSIStorageCapacityUpdate" };
/** Forces every unschedulable pod to move (e.g. after a failed binding). */
export const WildCardEvent: ClusterEvent = { resource: EventResource.WildCard, actionType: ActionType.All, label: "WildCardEvent" };
/** Pods that stayed unschedulable longer than podMaxInUnschedulablePodsDuration. */
export const UnschedulableTimeout: ClusterEvent = { resource: EventResource.WildCard, actionType: ActionType.All, label: "UnschedulableTimeout" };

function sameRecord(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined): boolean {
  const ka = Object.keys(a ?? {});
  const kb = Object.keys(b ?? {});
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (a?.[k] !== b?.[k]) return false;
  return true;
}

function sameAllocatable(a: Node, b: Node): boolean {
  const x = a.status?.allocatable ?? {};
  const y = b.status?.allocatable ?? {};
  const kx = Object.keys(x);
  if (kx.length !== Object.keys(y).length) return false;
  // Semantic equality: "1Gi" and "1024Mi" are the same allocatable.
  for (const k of kx) if (!(k in y) || quantityFor(k, x[k]) !== quantityFor(k, y[k])) return false;
  return true;
}

function sameTaints(a: Node, b: Node): boolean {
  return JSON.stringify(a.spec?.taints ?? []) === JSON.stringify(b.spec?.taints ?? []);
}

function conditionStatuses(n: Node): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of n.status?.conditions ?? []) out[c.type] = c.status;
  return out;
}

/** NodeSchedulingPropertiesChange: the events a node update amounts to, in upstream's order. */
export function nodeSchedulingPropertiesChange(newNode: Node, oldNode: Node): ClusterEvent[] {
  const events: ClusterEvent[] = [];
  // Only a node becoming schedulable can help pending pods.
  if (!!newNode.spec?.unschedulable !== !!oldNode.spec?.unschedulable && !newNode.spec?.unschedulable) events.push(NodeSpecUnschedulableChange);
  if (!sameAllocatable(newNode, oldNode)) events.push(NodeAllocatableChange);
  if (!sameRecord(newNode.metadata?.labels, oldNode.metadata?.labels)) events.push(NodeLabelChange);
  if (!sameTaints(newNode, oldNode)) events.push(NodeTaintChange);
  if (!sameRecord(conditionStatuses(newNode), conditionStatuses(oldNode))) events.push(NodeConditionChange);
  if (!sameRecord(newNode.metadata?.annotations, oldNode.metadata?.annotations)) events.push(NodeAnnotationChange);
  return events;
}
