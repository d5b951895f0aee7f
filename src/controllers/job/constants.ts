/**
 * The names the Job API and its controller agree on (k8s.io/api/batch/v1):
 * labels and annotations on Jobs and their pods, the tracking finalizer,
 * condition types and reasons, and the controller's identity.
 */
import type { GroupVersionKind } from "../common/controller-ref.js";

/** batch/v1 Job, for controllerRefs and events. */
export const JOB_GVK: GroupVersionKind = { apiVersion: "batch/v1", kind: "Job" };

/** The component its events are reported as (upstream's EventSource component). */
export const JOB_CONTROLLER_COMPONENT = "job-controller";

/** `spec.managedBy` of Jobs this controller syncs (upstream's `batchv1.JobControllerName`). */
export const JOB_CONTROLLER_NAME = "kubernetes.io/job-controller";

/** The finalizer that keeps a finished pod around until the Job counted it. */
export const JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking";

/** Annotation (and label) with a pod's completion index in an Indexed Job. */
export const JOB_COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index";
/** Annotation with the failures counted against an index (backoffLimitPerIndex). */
export const JOB_INDEX_FAILURE_COUNT_ANNOTATION = "batch.kubernetes.io/job-index-failure-count";
/** Annotation with the failures of an index a pod failure policy ignored. */
export const JOB_INDEX_IGNORED_FAILURE_COUNT_ANNOTATION = "batch.kubernetes.io/job-index-ignored-failure-count";

/** The environment variable an Indexed Job's containers read their index from. */
export const COMPLETION_INDEX_ENV_NAME = "JOB_COMPLETION_INDEX";

/** Pod template labels the API server adds to select a Job's pods. */
export const LEGACY_JOB_NAME_LABEL = "job-name";
export const JOB_NAME_LABEL = "batch.kubernetes.io/job-name";
export const LEGACY_CONTROLLER_UID_LABEL = "controller-uid";
export const CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid";

/** Job condition types. */
export const JOB_COMPLETE = "Complete";
export const JOB_FAILED = "Failed";
export const JOB_SUSPENDED = "Suspended";
export const JOB_FAILURE_TARGET = "FailureTarget";
export const JOB_SUCCESS_CRITERIA_MET = "SuccessCriteriaMet";

/** Job condition reasons (and the reasons of the matching Warning events). */
export const REASON_BACKOFF_LIMIT_EXCEEDED = "BackoffLimitExceeded";
export const REASON_DEADLINE_EXCEEDED = "DeadlineExceeded";
export const REASON_POD_FAILURE_POLICY = "PodFailurePolicy";
export const REASON_MAX_FAILED_INDEXES_EXCEEDED = "MaxFailedIndexesExceeded";
export const REASON_FAILED_INDEXES = "FailedIndexes";
export const REASON_SUCCESS_POLICY = "SuccessPolicy";
export const REASON_COMPLETIONS_REACHED = "CompletionsReached";

/** Completion modes. */
export const NON_INDEXED_COMPLETION = "NonIndexed";
export const INDEXED_COMPLETION = "Indexed";

/** Pod failure policy actions. */
export const ACTION_FAIL_JOB = "FailJob";
export const ACTION_FAIL_INDEX = "FailIndex";
export const ACTION_IGNORE = "Ignore";
export const ACTION_COUNT = "Count";

/** podReplacementPolicy values. */
export const REPLACEMENT_TERMINATING_OR_FAILED = "TerminatingOrFailed";
export const REPLACEMENT_FAILED = "Failed";

/**
 * Upstream's pod failure backoff (`DefaultJobPodFailureBackOff`,
 * `MaxJobPodFailureBackOff`): a failed pod's replacement waits 10 s, doubling
 * with each consecutive failure, at most 10 minutes.
 */
export const DEFAULT_POD_FAILURE_BACKOFF_MS = 10_000;
export const MAX_POD_FAILURE_BACKOFF_MS = 10 * 60_000;

/** Upstream's `syncJobBatchPeriod`: pod events wake a Job at most once a second. */
export const SYNC_JOB_BATCH_PERIOD_MS = 1000;

/** Upstream's `DefaultJobApiBackOff` / `MaxJobApiBackOff`: retries of a failing sync. */
export const DEFAULT_JOB_API_BACKOFF_MS = 1000;
export const MAX_JOB_API_BACKOFF_MS = 60_000;

/** Upstream's `MaxUncountedPods`: keeps `status.uncountedTerminatedPods` below ~20 KB. */
export const MAX_UNCOUNTED_PODS = 500;

/** Upstream's `MaxPodCreateDeletePerSync`. */
export const MAX_POD_CREATE_DELETE_PER_SYNC = 500;

/** Upstream's `names.MaxGeneratedNameLength`: 63 minus the 5-character random suffix. */
export const MAX_GENERATED_NAME_LENGTH = 58;
