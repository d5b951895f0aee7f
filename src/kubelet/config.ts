/**
 * The kubelet's configuration: a subset of upstream's KubeletConfiguration
 * (kubelet.config.k8s.io/v1beta1), read from `--kubelet-config FILE` (YAML
 * or JSON) with upstream's field names and defaults, so tests shorten
 * timings by configuration, never by test-only code paths. Fields upstream
 * lacks are skiff extensions, named after upstream's internal constants.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { parseDuration } from "../machinery/duration.js";

/** Resolved settings, durations in milliseconds. */
export interface KubeletConfig {
  /** How often node status is computed (upstream nodeStatusUpdateFrequency, 10s). */
  readonly nodeStatusUpdateFrequencyMs: number;
  /** How often an unchanged node status is still written (nodeStatusReportFrequency, 5m). */
  readonly nodeStatusReportFrequencyMs: number;
  /** The node Lease's duration (nodeLeaseDurationSeconds, 40); it is renewed every quarter of it (10 s). */
  readonly nodeLeaseDurationSeconds: number;
  /** Periodic resync of every pod worker (syncFrequency, 1m). */
  readonly syncFrequencyMs: number;
  /** Periodic relist of the runtime (upstream's plegRelistPeriod constant, 1s); extension. */
  readonly plegRelistPeriodMs: number;
  /** First crash-loop restart delay (upstream's backOffPeriod constant, 10s); extension `crashLoopBackOff.initialContainerRestartPeriod`. */
  readonly crashLoopBackOffInitialMs: number;
  /** Cap of the crash-loop delay (crashLoopBackOff.maxContainerRestartPeriod, 5m). */
  readonly crashLoopBackOffMaxMs: number;
  /** First image pull retry delay (10s); extension `imagePullBackOff.initialPeriod`. */
  readonly imagePullBackOffInitialMs: number;
  /** Cap of the image pull retry delay (5m); extension `imagePullBackOff.maxPeriod`. */
  readonly imagePullBackOffMaxMs: number;
  /** Pods the node takes (maxPods, 110). */
  readonly maxPods: number;
  /** Resources held back from allocatable (systemReserved, kubeReserved). */
  readonly systemReserved: Readonly<Record<string, string>>;
  readonly kubeReserved: Readonly<Record<string, string>>;
  /** The kubelet API port advertised in node.status.daemonEndpoints (port, 10250). */
  readonly port: number;
  /** Settings of the simulated runtime (extension `simulation`). */
  readonly simulation: SimulationConfig;
}

/** The `simulation:` block: how `--runtime sim` nodes look and behave. */
export interface SimulationConfig {
  /** Capacity of each simulated node (cpu, memory, ephemeral-storage; pods come from maxPods). */
  readonly capacity: Readonly<Record<string, string>>;
  /** Time from start to running (containerStartDelay, 0). */
  readonly containerStartDelayMs: number;
  /** Time a pull takes (imagePullDelay, 0). */
  readonly imagePullDelayMs: number;
  /** Probability that a started container fails at once (failureRate, 0). */
  readonly failureRate: number;
  /** Seed of the failure generator (seed, 1). */
  readonly seed: number;
  /** Range node pod ranges come from when the Node has no spec.podCIDR (clusterCIDR, 10.42.0.0/16). */
  readonly clusterCidr: string;
  /** Size of each node's range (nodeCIDRMaskSize, 24; smaller when more nodes must fit). */
  readonly nodeCidrMaskSize: number;
}

/** Upstream's defaults (and skiff's for the extensions). */
export const DEFAULT_KUBELET_CONFIG: KubeletConfig = Object.freeze({
  nodeStatusUpdateFrequencyMs: 10_000,
  nodeStatusReportFrequencyMs: 5 * 60_000,
  nodeLeaseDurationSeconds: 40,
  syncFrequencyMs: 60_000,
  plegRelistPeriodMs: 1_000,
  crashLoopBackOffInitialMs: 10_000,
  crashLoopBackOffMaxMs: 5 * 60_000,
  imagePullBackOffInitialMs: 10_000,
  imagePullBackOffMaxMs: 5 * 60_000,
  maxPods: 110,
  systemReserved: {},
  kubeReserved: {},
  port: 10250,
  simulation: Object.freeze({
    capacity: Object.freeze({ cpu: "8", memory: "32Gi", "ephemeral-storage": "100Gi" }),
    containerStartDelayMs: 0,
    imagePullDelayMs: 0,
    failureRate: 0,
    seed: 1,
    clusterCidr: "10.42.0.0/16",
    nodeCidrMaskSize: 24,
  }),
});

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** A duration field: Go form ("10s", "1m30s") or a number of seconds. */
function duration(o: Obj, key: string, path: string, fallback: number): number {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v === "number" && v >= 0) return v * 1000;
  if (typeof v !== "string") throw new Error(`${path}${key}: want a duration such as "10s"`);
  try {
    return parseDuration(v);
  } catch (err) {
    throw new Error(`${path}${key}: ${(err as Error).message}`);
  }
}

function number(o: Obj, key: string, path: string, fallback: number, check: (n: number) => boolean, want: string): number {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "number" || !check(v)) throw new Error(`${path}${key}: want ${want}, not ${JSON.stringify(v)}`);
  return v;
}

function stringMap(o: Obj, key: string, path: string, fallback: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (!isObj(v)) throw new Error(`${path}${key}: want a map of resource name to quantity`);
  const out: Record<string, string> = {};
  for (const [k, q] of Object.entries(v)) out[k] = String(q);
  return out;
}

function section(o: Obj, key: string): Obj {
  const v = o[key];
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new Error(`${key}: want a mapping`);
  return v;
}

const KNOWN = new Set([
  "apiVersion",
  "kind",
  "nodeStatusUpdateFrequency",
  "nodeStatusReportFrequency",
  "nodeLeaseDurationSeconds",
  "syncFrequency",
  "plegRelistPeriod",
  "crashLoopBackOff",
  "imagePullBackOff",
  "maxPods",
  "systemReserved",
  "kubeReserved",
  "port",
  "simulation",
]);

/**
 * Resolves a KubeletConfiguration document (parsed YAML/JSON) over the
 * defaults. Fields skiff does not implement are refused by name rather than
 * silently ignored (DESIGN.md §4.6).
 */
export function kubeletConfigFrom(doc: unknown, base: KubeletConfig = DEFAULT_KUBELET_CONFIG): KubeletConfig {
  if (doc === undefined || doc === null) return base;
  if (!isObj(doc)) throw new Error("kubelet config must be a mapping");
  if (doc.kind !== undefined && doc.kind !== "KubeletConfiguration") throw new Error(`kubelet config: kind must be KubeletConfiguration, not ${String(doc.kind)}`);
  if (doc.apiVersion !== undefined && doc.apiVersion !== "kubelet.config.k8s.io/v1beta1") {
    throw new Error(`kubelet config: apiVersion must be kubelet.config.k8s.io/v1beta1, not ${String(doc.apiVersion)}`);
  }
  const unknown = Object.keys(doc).filter((k) => !KNOWN.has(k));
  if (unknown.length > 0) throw new Error(`kubelet config: skiff does not support ${unknown.map((k) => JSON.stringify(k)).join(", ")} (supported: ${[...KNOWN].slice(2).join(", ")})`);
  const crash = section(doc, "crashLoopBackOff");
  const pull = section(doc, "imagePullBackOff");
  const sim = section(doc, "simulation");
  const simBase = base.simulation;
  const config: KubeletConfig = {
    nodeStatusUpdateFrequencyMs: duration(doc, "nodeStatusUpdateFrequency", "", base.nodeStatusUpdateFrequencyMs),
    nodeStatusReportFrequencyMs: duration(doc, "nodeStatusReportFrequency", "", base.nodeStatusReportFrequencyMs),
    nodeLeaseDurationSeconds: number(doc, "nodeLeaseDurationSeconds", "", base.nodeLeaseDurationSeconds, (n) => Number.isInteger(n) && n > 0, "a whole number > 0"),
    syncFrequencyMs: duration(doc, "syncFrequency", "", base.syncFrequencyMs),
    plegRelistPeriodMs: duration(doc, "plegRelistPeriod", "", base.plegRelistPeriodMs),
    crashLoopBackOffInitialMs: duration(crash, "initialContainerRestartPeriod", "crashLoopBackOff.", base.crashLoopBackOffInitialMs),
    crashLoopBackOffMaxMs: duration(crash, "maxContainerRestartPeriod", "crashLoopBackOff.", base.crashLoopBackOffMaxMs),
    imagePullBackOffInitialMs: duration(pull, "initialPeriod", "imagePullBackOff.", base.imagePullBackOffInitialMs),
    imagePullBackOffMaxMs: duration(pull, "maxPeriod", "imagePullBackOff.", base.imagePullBackOffMaxMs),
    maxPods: number(doc, "maxPods", "", base.maxPods, (n) => Number.isInteger(n) && n > 0, "a whole number > 0"),
    systemReserved: stringMap(doc, "systemReserved", "", base.systemReserved),
    kubeReserved: stringMap(doc, "kubeReserved", "", base.kubeReserved),
    port: number(doc, "port", "", base.port, (n) => Number.isInteger(n) && n >= 0 && n < 65536, "a port number"),
    simulation: {
      capacity: stringMap(sim, "capacity", "simulation.", simBase.capacity),
      containerStartDelayMs: duration(sim, "containerStartDelay", "simulation.", simBase.containerStartDelayMs),
      imagePullDelayMs: duration(sim, "imagePullDelay", "simulation.", simBase.imagePullDelayMs),
      failureRate: number(sim, "failureRate", "simulation.", simBase.failureRate, (n) => n >= 0 && n <= 1, "a number from 0 to 1"),
      seed: number(sim, "seed", "simulation.", simBase.seed, Number.isInteger, "a whole number"),
      clusterCidr: typeof sim.clusterCIDR === "string" ? sim.clusterCIDR : simBase.clusterCidr,
      nodeCidrMaskSize: number(sim, "nodeCIDRMaskSize", "simulation.", simBase.nodeCidrMaskSize, (n) => Number.isInteger(n) && n >= 8 && n <= 30, "a whole number from 8 to 30"),
    },
  };
  if (config.crashLoopBackOffInitialMs <= 0 || config.crashLoopBackOffMaxMs < config.crashLoopBackOffInitialMs) {
    throw new Error("crashLoopBackOff: the initial period must be > 0 and not above maxContainerRestartPeriod");
  }
  if (config.imagePullBackOffInitialMs <= 0 || config.imagePullBackOffMaxMs < config.imagePullBackOffInitialMs) {
    throw new Error("imagePullBackOff: initialPeriod must be > 0 and not above maxPeriod");
  }
  return config;
}

/** Reads `--kubelet-config FILE`; errors name the file. */
export function loadKubeletConfig(path: string): KubeletConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`--kubelet-config ${path}: ${(err as Error).message}`);
  }
  try {
    return kubeletConfigFrom(parseYaml(text));
  } catch (err) {
    throw new Error(`--kubelet-config ${path}: ${(err as Error).message}`);
  }
}
