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
  /** The cgroup all pods live under (cgroupRoot; skiff's default `/skiff`, so pods never mix with the host's). */
  readonly cgroupRoot: string;
  /** Cluster DNS servers pods with dnsPolicy ClusterFirst use (clusterDNS, k3s' 10.43.0.10). */
  readonly clusterDNS: readonly string[];
  /** The cluster's DNS domain (clusterDomain, cluster.local). */
  readonly clusterDomain: string;
  /** A container log is rotated past this size (containerLogMaxSize, 10Mi), in bytes. */
  readonly containerLogMaxSizeBytes: number;
  /** Rotated files kept per container, the live one included (containerLogMaxFiles, 5). */
  readonly containerLogMaxFiles: number;
  /** Image GC starts above this disk use (imageGCHighThresholdPercent, 85). */
  readonly imageGCHighThresholdPercent: number;
  /** Image GC frees down to this disk use (imageGCLowThresholdPercent, 80). */
  readonly imageGCLowThresholdPercent: number;
  /** The node's pod network on this host (extension `network`). */
  readonly network: NodeNetworkConfig;
}

/** The `network:` block: host names of one agent's pod network, distinct per agent on a shared machine. */
export interface NodeNetworkConfig {
  /** The pod bridge (bridgeName, skiff0). */
  readonly bridgeName: string;
  /** Sandbox network namespaces are named `<netnsPrefix><id>` (netnsPrefix, skiff-). */
  readonly netnsPrefix: string;
  /** Where the CNI plugins are; the first that has a plugin wins (cniBinDirs: Debian's /usr/lib/cni, then upstream's /opt/cni/bin). */
  readonly cniBinDirs: readonly string[];
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
  cgroupRoot: "/skiff",
  clusterDNS: Object.freeze(["10.43.0.10"]),
  clusterDomain: "cluster.local",
  containerLogMaxSizeBytes: 10 * 1024 * 1024,
  containerLogMaxFiles: 5,
  imageGCHighThresholdPercent: 85,
  imageGCLowThresholdPercent: 80,
  network: Object.freeze({ bridgeName: "skiff0", netnsPrefix: "skiff-", cniBinDirs: Object.freeze(["/usr/lib/cni", "/opt/cni/bin"]) }),
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
  "cgroupRoot",
  "clusterDNS",
  "clusterDomain",
  "containerLogMaxSize",
  "containerLogMaxFiles",
  "imageGCHighThresholdPercent",
  "imageGCLowThresholdPercent",
  "network",
]);

function text(o: Obj, key: string, path: string, fallback: string, check: (s: string) => boolean, want: string): string {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "string" || !check(v)) throw new Error(`${path}${key}: want ${want}, not ${JSON.stringify(v)}`);
  return v;
}

function strings(o: Obj, key: string, path: string, fallback: readonly string[]): readonly string[] {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new Error(`${path}${key}: want a list of strings`);
  return v as string[];
}

/** `10Mi`, `512Ki`, `1G`, or a plain number of bytes. */
function byteSize(o: Obj, key: string, fallback: number): number {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  const m = /^(\d+)(Ki|Mi|Gi|K|M|G)?$/.exec(String(v));
  if (!m) throw new Error(`${key}: want a size such as "10Mi", not ${JSON.stringify(v)}`);
  const unit: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, K: 1e3, M: 1e6, G: 1e9 };
  return Number(m[1]) * (m[2] ? unit[m[2]]! : 1);
}

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
  const net = section(doc, "network");
  const linkName = (n: string) => /^[a-zA-Z0-9_.-]{1,15}$/.test(n);
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
    cgroupRoot: text(doc, "cgroupRoot", "", base.cgroupRoot, (v) => /^\/[A-Za-z0-9_./-]*$/.test(v) && !v.includes(".."), "an absolute cgroup path such as /skiff"),
    clusterDNS: strings(doc, "clusterDNS", "", base.clusterDNS),
    clusterDomain: text(doc, "clusterDomain", "", base.clusterDomain, (v) => /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(v), "a DNS domain"),
    containerLogMaxSizeBytes: byteSize(doc, "containerLogMaxSize", base.containerLogMaxSizeBytes),
    containerLogMaxFiles: number(doc, "containerLogMaxFiles", "", base.containerLogMaxFiles, (n) => Number.isInteger(n) && n >= 2, "a whole number >= 2"),
    imageGCHighThresholdPercent: number(doc, "imageGCHighThresholdPercent", "", base.imageGCHighThresholdPercent, (n) => n >= 0 && n <= 100, "a percentage"),
    imageGCLowThresholdPercent: number(doc, "imageGCLowThresholdPercent", "", base.imageGCLowThresholdPercent, (n) => n >= 0 && n <= 100, "a percentage"),
    network: {
      bridgeName: text(net, "bridgeName", "network.", base.network.bridgeName, linkName, "a link name of at most 15 characters"),
      netnsPrefix: text(net, "netnsPrefix", "network.", base.network.netnsPrefix, (v) => /^[a-zA-Z0-9_.-]{1,40}$/.test(v), "a short name prefix"),
      cniBinDirs: strings(net, "cniBinDirs", "network.", base.network.cniBinDirs),
    },
  };
  if (config.imageGCLowThresholdPercent > config.imageGCHighThresholdPercent) {
    throw new Error("imageGCLowThresholdPercent must not be above imageGCHighThresholdPercent");
  }
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
