/**
 * Helpers shared by the workload controllers (ReplicaSet, and later
 * Deployment, Job, StatefulSet, DaemonSet), as upstream's
 * pkg/controller/controller_utils.go and controller_ref_manager.go.
 */
export {
  activePodsLess,
  activePodsWithRanksLess,
  getDeletionCostFromPodAnnotations,
  POD_DELETION_COST,
  type RankedPod,
  type RankingFeatures,
  sortActivePods,
  sortActivePodsWithRanks,
} from "./active-pods.js";
export { getControllerOf, type GroupVersionKind, newControllerRef, ownerReference } from "./controller-ref.js";
export {
  BaseControllerRefManager,
  type CanAdoptFunc,
  type ClaimResult,
  type ControllerRefManagerOptions,
  deleteOwnerRefStrategicMergePatch,
  ownerRefControllerPatch,
  PodControllerRefManager,
  recheckDeletionTimestamp,
} from "./controller-ref-manager.js";
export { deepEqual } from "./equality.js";
export { AggregateErrors, aggregate, errorMessage } from "./errors.js";
export {
  ControlleeExpectations,
  ControllerExpectations,
  type ControllerExpectationsOptions,
  EXPECTATIONS_TIMEOUT_MS,
  UIDTrackingControllerExpectations,
} from "./expectations.js";
export {
  addControllerUIDIndexer,
  addPodControllerUIDIndexer,
  CONTROLLER_UID_INDEX,
  filterPodsByOwner,
  orphanPodIndexKey,
  POD_CONTROLLER_UID_INDEX,
} from "./indexers.js";
export {
  CREATE_ACTION,
  DELETE_ACTION,
  FAILED_CREATE_POD_REASON,
  FAILED_DELETE_POD_REASON,
  getPodFromTemplate,
  getPodsPrefix,
  hasStatusCause,
  NAMESPACE_TERMINATING_CAUSE,
  type PodApi,
  type PodControl,
  type PodEventRecorder,
  RealPodControl,
  type RealPodControlOptions,
  restPodApi,
  SUCCESSFUL_CREATE_POD_REASON,
  SUCCESSFUL_DELETE_POD_REASON,
  validateControllerRef,
} from "./pod-control.js";
export { filterActivePods, getPodReadyCondition, isPodActive, isPodAvailable, isPodReady, isPodTerminating, podKey } from "./pod-utils.js";
export { SLOW_START_INITIAL_BATCH_SIZE, type SlowStartResult, slowStartBatch } from "./slow-start.js";
export { goTimeString, parseTime, rfc3339 } from "./time.js";
export { processNextWorkItem } from "./workers.js";
