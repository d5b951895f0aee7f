/**
 * The HPA controller's settings with kube-controller-manager's flag names
 * and defaults (pkg/controller/podautoscaler/config/v1alpha1/defaults.go).
 */

/** `--horizontal-pod-autoscaler-sync-period`: how often each HPA is reconciled. */
export const DEFAULT_SYNC_PERIOD_MS = 15_000;
/** `--horizontal-pod-autoscaler-downscale-stabilization`: the look-back for scale-down recommendations. */
export const DEFAULT_DOWNSCALE_STABILIZATION_MS = 5 * 60_000;
/** `--horizontal-pod-autoscaler-tolerance`: the usage ratio band around 1.0 that changes nothing. */
export const DEFAULT_TOLERANCE = 0.1;
/** `--horizontal-pod-autoscaler-cpu-initialization-period`: after a pod starts, cpu samples are distrusted this long. */
export const DEFAULT_CPU_INITIALIZATION_PERIOD_MS = 5 * 60_000;
/** `--horizontal-pod-autoscaler-initial-readiness-delay`: readiness flips this soon after start mean "never ready yet". */
export const DEFAULT_INITIAL_READINESS_DELAY_MS = 30_000;

/** Upstream's scaleUpLimitFactor and scaleUpLimitMinimum (scaling without `behavior`). */
export const SCALE_UP_LIMIT_FACTOR = 2.0;
export const SCALE_UP_LIMIT_MINIMUM = 4.0;

/** The HPA settings a controller manager passes on. */
export interface HpaSettings {
  readonly syncPeriodMs?: number;
  readonly downscaleStabilizationMs?: number;
  readonly tolerance?: number;
  readonly cpuInitializationPeriodMs?: number;
  readonly initialReadinessDelayMs?: number;
}
