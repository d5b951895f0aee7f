/**
 * The Events a kubelet records, with upstream's reasons
 * (pkg/kubelet/events) and messages, written through the events.k8s.io
 * recorder as `reportingController: kubelet`, `reportingInstance: NODE`.
 */
import type { ObjectReference, Pod } from "kubernetes-types/core/v1.js";
import type { EventRecorder, EventType } from "../client/event-recorder.js";

/** Upstream's kubelet event reasons. */
export const Reason = {
  Pulling: "Pulling",
  Pulled: "Pulled",
  /** Image pull failure and container create/start failures share "Failed", as upstream. */
  Failed: "Failed",
  /** Crash-loop and image pull back-off share "BackOff", as upstream. */
  BackOff: "BackOff",
  ErrImageNeverPull: "ErrImageNeverPull",
  InspectFailed: "InspectFailed",
  Created: "Created",
  Started: "Started",
  Killing: "Killing",
  FailedCreatePodSandBox: "FailedCreatePodSandBox",
  SandboxChanged: "SandboxChanged",
  FailedKillPod: "FailedKillPod",
  Starting: "Starting",
  NodeReady: "NodeReady",
  NodeNotReady: "NodeNotReady",
  NodeAllocatableEnforced: "NodeAllocatableEnforced",
  FailedMount: "FailedMount",
  FailedToRetrieveImagePullSecret: "FailedToRetrieveImagePullSecret",
  InvalidEnvironmentVariableNames: "InvalidEnvironmentVariableNames",
  Unhealthy: "Unhealthy",
  ProbeWarning: "ProbeWarning",
  FailedPostStartHook: "FailedPostStartHook",
  FailedPreStopHook: "FailedPreStopHook",
  LifecycleHTTPFallback: "LifecycleHTTPFallback",
} as const;

/** events.k8s.io needs an action; upstream's legacy recorder has none, so skiff names one per reason. */
const ACTIONS: Record<string, string> = {
  Pulling: "Pulling",
  Pulled: "Pulled",
  Failed: "Failed",
  BackOff: "BackOff",
  ErrImageNeverPull: "Pulling",
  InspectFailed: "Pulling",
  Created: "Created",
  Started: "Started",
  Killing: "Killing",
  FailedCreatePodSandBox: "CreatePodSandbox",
  SandboxChanged: "CreatePodSandbox",
  FailedKillPod: "Killing",
  Starting: "Starting",
  NodeReady: "NodeReady",
  NodeNotReady: "NodeNotReady",
  NodeAllocatableEnforced: "NodeAllocatableEnforced",
  FailedMount: "MountVolume",
  FailedToRetrieveImagePullSecret: "PullImage",
  InvalidEnvironmentVariableNames: "CreateContainer",
  Unhealthy: "Probe",
  ProbeWarning: "Probe",
  FailedPostStartHook: "PostStartHook",
  FailedPreStopHook: "PreStopHook",
  LifecycleHTTPFallback: "LifecycleHook",
};

/** Where kubelet events go: the recorder, or nothing (unit tests). */
export interface KubeletEvents {
  /** `action` tells apart events of one reason (e.g. "Failed" of a pull and of a start) so they form separate series. */
  emit(regarding: ObjectReference, type: EventType, reason: string, note: string, action?: string): void;
}

/** Events written through an {@link EventRecorder}. */
export function recorderEvents(recorder: EventRecorder): KubeletEvents {
  return {
    emit(regarding, type, reason, note, action) {
      recorder.event(regarding, undefined, type, reason, action ?? ACTIONS[reason] ?? reason, note);
    },
  };
}

/** Drops every event. */
export const noEvents: KubeletEvents = { emit() {} };

/**
 * The reference events about a pod (or one of its containers) carry, as
 * upstream's GenerateContainerRef: `fieldPath: spec.containers{NAME}`. The
 * resourceVersion is left out so repeats of one event form a series.
 */
export function podRef(pod: Pod, container?: { name: string; init: boolean }): ObjectReference {
  const m = pod.metadata ?? {};
  const ref: ObjectReference = { apiVersion: "v1", kind: "Pod", namespace: m.namespace, name: m.name, uid: m.uid };
  if (container) ref.fieldPath = `spec.${container.init ? "initContainers" : "containers"}{${container.name}}`;
  return ref;
}

/** The reference of node events: upstream uses the node name as its UID. */
export function nodeRef(nodeName: string): ObjectReference {
  return { apiVersion: "v1", kind: "Node", name: nodeName, uid: nodeName };
}
