/**
 * kube-controller-manager's HPA flags as `skiff server` takes them
 * (`--horizontal-pod-autoscaler-sync-period 15s`, `-downscale-stabilization
 * 5m`, `-tolerance 0.1`, `-cpu-initialization-period 5m`,
 * `-initial-readiness-delay 30s`): parsing and checks.
 */
import type { Command } from "commander";
import { parseDuration } from "../../machinery/duration.js";

/** The flags as commander hands them over (strings, defaults applied). */
export interface HpaFlags {
  horizontalPodAutoscalerSyncPeriod?: string;
  horizontalPodAutoscalerDownscaleStabilization?: string;
  horizontalPodAutoscalerTolerance?: string;
  horizontalPodAutoscalerCpuInitializationPeriod?: string;
  horizontalPodAutoscalerInitialReadinessDelay?: string;
}

/** The ControllerSettings fields the flags set. */
export interface HpaControllerSettings {
  readonly horizontalPodAutoscalerSyncPeriodMs?: number;
  readonly horizontalPodAutoscalerDownscaleStabilizationMs?: number;
  readonly horizontalPodAutoscalerTolerance?: number;
  readonly horizontalPodAutoscalerCpuInitializationPeriodMs?: number;
  readonly horizontalPodAutoscalerInitialReadinessDelayMs?: number;
}

function duration(text: string | undefined, flag: string, positive: boolean): number | undefined {
  if (text === undefined) return undefined;
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (err) {
    throw new Error(`${flag}: ${(err as Error).message}`);
  }
  if (positive && !(ms > 0)) throw new Error(`${flag} must be greater than 0, not ${text}`);
  return ms;
}

/** Parses and checks the flags; throws naming the flag at fault. */
export function parseHpaFlags(flags: HpaFlags): HpaControllerSettings {
  let tolerance: number | undefined;
  if (flags.horizontalPodAutoscalerTolerance !== undefined) {
    tolerance = Number(flags.horizontalPodAutoscalerTolerance);
    if (flags.horizontalPodAutoscalerTolerance.trim() === "" || !Number.isFinite(tolerance) || tolerance < 0) {
      throw new Error(`--horizontal-pod-autoscaler-tolerance must be a non-negative number, not ${flags.horizontalPodAutoscalerTolerance}`);
    }
  }
  return {
    horizontalPodAutoscalerSyncPeriodMs: duration(flags.horizontalPodAutoscalerSyncPeriod, "--horizontal-pod-autoscaler-sync-period", true),
    horizontalPodAutoscalerDownscaleStabilizationMs: duration(flags.horizontalPodAutoscalerDownscaleStabilization, "--horizontal-pod-autoscaler-downscale-stabilization", false),
    horizontalPodAutoscalerTolerance: tolerance,
    horizontalPodAutoscalerCpuInitializationPeriodMs: duration(flags.horizontalPodAutoscalerCpuInitializationPeriod, "--horizontal-pod-autoscaler-cpu-initialization-period", false),
    horizontalPodAutoscalerInitialReadinessDelayMs: duration(flags.horizontalPodAutoscalerInitialReadinessDelay, "--horizontal-pod-autoscaler-initial-readiness-delay", false),
  };
}

/** Adds the five flags, with kube-controller-manager's defaults, to `skiff server` or `skiff controller-manager`. */
export function addHpaOptions(cmd: Command): Command {
  return cmd
    .option("--horizontal-pod-autoscaler-sync-period <duration>", "how often the HPA controller reconciles each HorizontalPodAutoscaler", "15s")
    .option("--horizontal-pod-autoscaler-downscale-stabilization <duration>", "how far back the HPA looks at recommendations before scaling down", "5m")
    .option("--horizontal-pod-autoscaler-tolerance <ratio>", "minimum change (from 1.0) in the desired-to-actual metrics ratio for the HPA to scale", "0.1")
    .option("--horizontal-pod-autoscaler-cpu-initialization-period <duration>", "time after a pod starts during which its CPU samples may be skipped", "5m")
    .option("--horizontal-pod-autoscaler-initial-readiness-delay <duration>", "time after a pod starts during which readiness changes count as its initial readiness", "30s");
}
