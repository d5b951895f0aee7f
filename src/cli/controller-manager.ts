/**
 * `skiff controller-manager`: the controller manager as its own process, as
 * kube-controller-manager runs beside a kube-apiserver. It talks to the
 * cluster only through the API, with the kubeconfig it is given, and
 * campaigns for the `kube-system/kube-controller-manager` Lease, so it can
 * run next to (or instead of) the one inside `skiff server` (run that one
 * with `--disable controller-manager`) and a second instance takes over when
 * the first dies. Flag names and defaults are kube-controller-manager's.
 */
import type { Command } from "commander";
import { configFromKubeconfig } from "../client/config.js";
import { RestClient } from "../client/rest-client.js";
import { CONTROLLERS, ControllerManager, type ControllerSettings, DEFAULT_CONTROLLER_SETTINGS } from "../controllers/manager.js";
import { addHpaOptions, type HpaFlags, parseHpaFlags } from "../controllers/podautoscaler/flags.js";
import { type Cidr, parseCidr } from "../machinery/cidr.js";
import { parseDuration } from "../machinery/duration.js";
import { consoleLogger } from "../machinery/log.js";

/** Flags of `skiff controller-manager`, as commander parses them. */
export interface ControllerManagerFlags extends HpaFlags {
  kubeconfig?: string;
  rootCaFile?: string;
  serviceAccountPrivateKeyFile?: string;
  leaderElect: string;
  leaderElectLeaseDuration: string;
  leaderElectRenewDeadline: string;
  leaderElectRetryPeriod: string;
  controllers: string[];
  clusterCidr: string;
  nodeCidrMaskSize: string;
  nodeMonitorPeriod: string;
  nodeMonitorGracePeriod: string;
  nodeStartupGracePeriod: string;
  nodeEvictionRate: string;
  secondaryNodeEvictionRate: string;
  largeClusterSizeThreshold: string;
  unhealthyZoneThreshold: string;
  terminatedPodGcThreshold: string;
  pvclaimbinderSyncPeriod: string;
}

/** What {@link parseControllerManagerFlags} makes of the flags. */
export interface ControllerManagerPlan {
  readonly kubeconfig: string;
  readonly controllers: readonly string[];
  readonly settings: ControllerSettings;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

function duration(text: string, flag: string): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (err) {
    throw new Error(`${flag}: ${(err as Error).message}`);
  }
  if (!(ms > 0)) throw new Error(`${flag} must be greater than 0, not ${text}`);
  return ms;
}

function number(text: string, flag: string, check: (n: number) => boolean, what: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || !check(n)) throw new Error(`${flag} must be ${what}, not ${text}`);
  return n;
}

/**
 * Which controllers `--controllers` names, as kube-controller-manager reads
 * it: `*` turns on every controller, `foo` turns on foo, `-foo` turns it
 * off (the later entry wins for a controller named twice).
 */
export function selectControllers(entries: readonly string[]): string[] {
  const known = Object.keys(CONTROLLERS);
  const all = entries.flatMap((e) => e.split(",")).map((e) => e.trim()).filter((e) => e !== "");
  const on = new Set<string>(all.includes("*") ? known : []);
  for (const e of all) {
    if (e === "*") continue;
    const name = e.startsWith("-") ? e.slice(1) : e;
    if (!CONTROLLERS[name]) throw new Error(`--controllers: "${name}" is not a known controller; known: ${known.join(", ")}`);
    if (e.startsWith("-")) on.delete(name);
    else on.add(name);
  }
  // The order of CONTROLLERS, not of the flag: the garbage collector first, as the manager starts them.
  return known.filter((n) => on.has(n));
}

/** Validates the flags into what the controller manager runs with; throws with the flag's name on bad input. */
export function parseControllerManagerFlags(flags: ControllerManagerFlags, env: NodeJS.ProcessEnv = process.env): ControllerManagerPlan {
  const kubeconfig = flags.kubeconfig ?? env.KUBECONFIG?.split(":").find((p) => p !== "");
  if (!kubeconfig) throw new Error("--kubeconfig is required (or KUBECONFIG): the controller manager reaches the API server only through it");
  const leaderElect = flags.leaderElect.toLowerCase();
  if (leaderElect === "false") {
    // Every skiff component campaigns for its Lease; running unelected beside another instance would double every action.
    throw new Error("--leader-elect=false is not supported: skiff's controller manager always campaigns for the kube-system/kube-controller-manager Lease");
  }
  if (leaderElect !== "true") throw new Error(`--leader-elect must be true or false, not ${flags.leaderElect}`);
  const leaseDurationMs = duration(flags.leaderElectLeaseDuration, "--leader-elect-lease-duration");
  const renewDeadlineMs = duration(flags.leaderElectRenewDeadline, "--leader-elect-renew-deadline");
  const retryPeriodMs = duration(flags.leaderElectRetryPeriod, "--leader-elect-retry-period");
  // client-go's NewLeaderElector refuses these too.
  if (leaseDurationMs <= renewDeadlineMs) throw new Error("--leader-elect-lease-duration must be greater than --leader-elect-renew-deadline");
  if (renewDeadlineMs <= 1.2 * retryPeriodMs) throw new Error("--leader-elect-renew-deadline must be greater than 1.2 × --leader-elect-retry-period");
  const controllers = selectControllers(flags.controllers);
  if (controllers.length === 0) throw new Error("--controllers turns every controller off: nothing to run");
  let cidr: Cidr;
  try {
    cidr = parseCidr(flags.clusterCidr);
  } catch (err) {
    throw new Error(`--cluster-cidr: ${(err as Error).message}`);
  }
  const mask = number(flags.nodeCidrMaskSize, "--node-cidr-mask-size", (n) => Number.isInteger(n) && n >= cidr.prefix && n <= 30, `an integer from ${cidr.prefix} to 30`);
  const settings: ControllerSettings = {
    ...DEFAULT_CONTROLLER_SETTINGS,
    clusterCidr: flags.clusterCidr,
    nodeCidrMaskSize: mask,
    nodeMonitorPeriodMs: duration(flags.nodeMonitorPeriod, "--node-monitor-period"),
    nodeMonitorGracePeriodMs: duration(flags.nodeMonitorGracePeriod, "--node-monitor-grace-period"),
    nodeStartupGracePeriodMs: duration(flags.nodeStartupGracePeriod, "--node-startup-grace-period"),
    nodeEvictionRate: number(flags.nodeEvictionRate, "--node-eviction-rate", (n) => n >= 0, "a number ≥ 0"),
    secondaryNodeEvictionRate: number(flags.secondaryNodeEvictionRate, "--secondary-node-eviction-rate", (n) => n >= 0, "a number ≥ 0"),
    largeClusterSizeThreshold: number(flags.largeClusterSizeThreshold, "--large-cluster-size-threshold", (n) => Number.isInteger(n) && n >= 0, "an integer ≥ 0"),
    unhealthyZoneThreshold: number(flags.unhealthyZoneThreshold, "--unhealthy-zone-threshold", (n) => n >= 0 && n <= 1, "a fraction from 0 to 1"),
    terminatedPodGCThreshold: number(flags.terminatedPodGcThreshold, "--terminated-pod-gc-threshold", (n) => Number.isInteger(n) && n >= 0, "an integer ≥ 0"),
    pvClaimBinderSyncPeriodMs: duration(flags.pvclaimbinderSyncPeriod, "--pvclaimbinder-sync-period"),
    ...parseHpaFlags(flags),
    rootCaFile: flags.rootCaFile,
    serviceAccountPrivateKeyFile: flags.serviceAccountPrivateKeyFile,
  };
  return { kubeconfig, controllers, settings, leaseDurationMs, renewDeadlineMs, retryPeriodMs };
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** Registers `skiff controller-manager` on the program. */
export function registerControllerManager(program: Command): void {
  const cmd = program.command("controller-manager");
  addHpaOptions(cmd)
    .description(
      "Run the controller manager on its own (as kube-controller-manager), against a server started with --disable controller-manager; " +
        "instances elect a leader on the kube-system/kube-controller-manager Lease",
    )
    .option("--kubeconfig <file>", "kubeconfig with the API server and credentials (KUBECONFIG when absent)")
    .option("--leader-elect [bool]", "campaign for the Lease before running controllers (only true is supported)", "true")
    .option("--leader-elect-lease-duration <duration>", "how long a non-leader waits after the last renewal before taking the Lease over", "15s")
    .option("--leader-elect-renew-deadline <duration>", "how long the leader keeps retrying a renewal before it stops leading", "10s")
    .option("--leader-elect-retry-period <duration>", "wait between attempts to acquire or renew the Lease", "2s")
    .option("--controllers <list>", "controllers to run: '*' for all, 'foo' to add foo, '-foo' to leave foo out (comma-separated, repeatable)", collect)
    .option("--cluster-cidr <cidr>", "IPv4 range pod IPs come from; nodes get their ranges from it", DEFAULT_CONTROLLER_SETTINGS.clusterCidr)
    .option("--node-cidr-mask-size <n>", "prefix length of each node's range", String(DEFAULT_CONTROLLER_SETTINGS.nodeCidrMaskSize))
    .option("--node-monitor-period <duration>", "how often node health is checked", "5s")
    .option("--node-monitor-grace-period <duration>", "how long a node may stop posting status before it is marked Unknown and tainted", "50s")
    .option("--node-startup-grace-period <duration>", "the same for a node that never posted Ready", "1m")
    .option("--node-eviction-rate <rate>", "nodes per second whose pods are evicted in a healthy zone", "0.1")
    .option("--secondary-node-eviction-rate <rate>", "the same in a partially disrupted large zone", "0.01")
    .option("--large-cluster-size-threshold <n>", "zones up to this many nodes stop evicting when partially disrupted", "50")
    .option("--unhealthy-zone-threshold <fraction>", "share of NotReady nodes making a zone partially disrupted", "0.55")
    .option("--terminated-pod-gc-threshold <n>", "terminated pods kept before the oldest are deleted (0 keeps all)", "12500")
    .option("--pvclaimbinder-sync-period <duration>", "how often claims and volumes are synced again", "15s")
    .option("--root-ca-file <file>", "CA bundle published as kube-root-ca.crt in every namespace (default: the kubeconfig's CA)")
    .option("--service-account-private-key-file <file>", "key that signs legacy ServiceAccount token Secrets (the server's <data-dir>/tls/service-account.key); without it they are not filled")
    .action(async (raw: Omit<ControllerManagerFlags, "controllers" | "leaderElect"> & { controllers?: string[]; leaderElect: string | boolean }) => {
      // `--leader-elect` alone means true, as a Go bool flag.
      const flags: ControllerManagerFlags = { ...raw, leaderElect: String(raw.leaderElect), controllers: raw.controllers ?? ["*"] };
      const plan = parseControllerManagerFlags(flags);
      const log = consoleLogger().with({ component: "controller-manager" });
      const rest = new RestClient({ ...configFromKubeconfig(plan.kubeconfig), userAgent: "kube-controller-manager/skiff" });
      const ac = new AbortController();
      log.info("starting controller manager", { pid: process.pid, controllers: plan.controllers.length, kubeconfig: plan.kubeconfig });
      const stop = (sig: string) => {
        log.info("shutting down", { signal: sig });
        // Stopping the controllers releases the Lease, so another instance leads at once.
        ac.abort();
      };
      process.once("SIGINT", () => stop("SIGINT"));
      process.once("SIGTERM", () => stop("SIGTERM"));
      try {
        await new ControllerManager({
          rest,
          logger: log,
          settings: plan.settings,
          controllers: plan.controllers,
          leaseDurationMs: plan.leaseDurationMs,
          renewDeadlineMs: plan.renewDeadlineMs,
          retryPeriodMs: plan.retryPeriodMs,
        }).run(ac.signal);
      } finally {
        rest.close();
      }
      log.info("controller manager stopped");
      process.exit(0);
    });
}
