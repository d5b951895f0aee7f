/**
 * Enforces NetworkPolicies on this node's pods: watches Pods, Namespaces
 * and NetworkPolicies, compiles them (compile.ts) and keeps the table
 * `inet skiff_policy_<suffix>` in step, one `nft -f -` transaction per
 * sync. The first sync (and any sync after a failed one, and the periodic
 * resync) rebuilds the table atomically; every other sync sends only the
 * difference from what the table holds, so pod churn is set element adds
 * and deletes. Events that change nothing send nothing.
 *
 * Nothing is enforced before all three caches have listed: a policy
 * compiled against an empty pod list would isolate pods with nothing
 * allowed. The table stays when `run` ends (pods stay protected while the
 * agent restarts); {@link NetworkPolicyEnforcer.cleanup} removes it.
 */
import { readFileSync } from "node:fs";
import type { Namespace, Pod } from "kubernetes-types/core/v1.js";
import type { NetworkPolicy } from "kubernetes-types/networking/v1.js";
import { SharedInformer, stripManagedFields } from "../../client/informer.js";
import type { ListerWatcher } from "../../client/resource-client.js";
import type { Timers } from "../../client/timers.js";
import type { Logger } from "../../machinery/log.js";
import { type NftRunner, systemNft } from "../nft-runner.js";
import { compilePolicies, type PolicyRuleset } from "./compile.js";
import { deleteTableScript, diffScript, fullScript, policyTableName } from "./nft-script.js";

const BRIDGE_NF_CALL_IPTABLES = "/proc/sys/net/bridge/bridge-nf-call-iptables";

export type { NftRunner } from "../nft-runner.js";

/** Options of {@link NetworkPolicyEnforcer}. */
export interface NetworkPolicyEnforcerOptions {
  /** Every pod of the cluster: peers are selected anywhere, rules enforced on `nodeName`'s pods. */
  readonly pods: ListerWatcher<Pod>;
  readonly namespaces: ListerWatcher<Namespace>;
  readonly networkPolicies: ListerWatcher<NetworkPolicy>;
  readonly nodeName: string;
  /** Names the table `skiff_policy_<suffix>`; use the pod bridge's name so agents sharing a network namespace never share a table. */
  readonly tableSuffix: string;
  readonly logger: Logger;
  readonly timers: Timers;
  /** Replaces `nft -f -` (tests run it in their own network namespace). */
  readonly nft?: NftRunner;
  /** A failed sync is retried after this long (doubling to 30 s). Default 1 s. */
  readonly retryInitialMs?: number;
  /** The table is rebuilt from scratch this often, repairing outside changes. Default 5 min; 0 turns it off. */
  readonly resyncPeriodMs?: number;
}

/** Keeps this node's NetworkPolicy table in step with the API. */
export class NetworkPolicyEnforcer {
  readonly #o: NetworkPolicyEnforcerOptions;
  readonly #log: Logger;
  readonly #nft: NftRunner;
  readonly #table: string;
  /** What the table holds; undefined when unknown (not built yet, or a transaction failed). */
  #applied: PolicyRuleset | undefined;
  /** Set by the periodic resync: the next sync rebuilds the table whatever it holds. */
  #forceFull = false;
  #warnings = "";
  #dirty = false;
  #running: Promise<void> | undefined;
  #retryMs: number;
  #cancelRetry = () => {};
  /** Schedules a sync (set by `run`; a retry timer calls it). */
  #kick: () => void = () => {};
  #syncs = 0;

  constructor(o: NetworkPolicyEnforcerOptions) {
    this.#o = o;
    this.#nft = o.nft ?? systemNft;
    this.#table = policyTableName(o.tableSuffix);
    this.#log = o.logger.with({ component: "network-policy", table: this.#table });
    this.#retryMs = o.retryInitialMs ?? 1000;
  }

  /** The nft table this enforcer owns. */
  get table(): string {
    return this.#table;
  }

  /** Successful transactions so far (tests wait on it). */
  get syncCount(): number {
    return this.#syncs;
  }

  /** Watches and enforces until `signal` aborts; the table stays in place afterwards. */
  async run(signal: AbortSignal): Promise<void> {
    this.#checkBridgeNetfilter();
    const common = { logger: this.#o.logger, timers: this.#o.timers };
    const pods = new SharedInformer<Pod>({ source: this.#o.pods, name: "pods-policy", transform: stripManagedFields, ...common });
    const namespaces = new SharedInformer<Namespace>({ source: this.#o.namespaces, name: "namespaces-policy", ...common });
    const policies = new SharedInformer<NetworkPolicy>({ source: this.#o.networkPolicies, name: "networkpolicies", ...common });
    let synced = false;
    const sync = async () => {
      const compiled = compilePolicies({ pods: pods.list(), namespaces: namespaces.list(), policies: policies.list(), nodeName: this.#o.nodeName });
      const warnings = compiled.warnings.join("\n");
      if (warnings !== this.#warnings) for (const w of compiled.warnings) this.#log.warn("cannot enforce part of a NetworkPolicy", { problem: w });
      this.#warnings = warnings;
      await this.#apply(compiled.ruleset);
    };
    const kick = () => {
      if (!synced || signal.aborted) return;
      this.#dirty = true;
      if (this.#running !== undefined) return;
      const loop = async () => {
        try {
          while (this.#dirty && !signal.aborted) {
            this.#dirty = false;
            try {
              await sync();
            } catch (err) {
              this.#log.error("NetworkPolicy sync failed", { err: (err as Error)?.stack ?? String(err) });
            }
          }
        } finally {
          // Cleared in the same turn as the last dirty check, so a kick never lands in between and is lost.
          this.#running = undefined;
        }
      };
      this.#running = loop();
    };
    this.#kick = kick;
    for (const informer of [pods, namespaces, policies] as SharedInformer<Pod | Namespace | NetworkPolicy>[]) {
      informer.addEventHandler({ onAdd: kick, onUpdate: kick, onDelete: kick });
    }
    const runs = [pods.run(signal), namespaces.run(signal), policies.run(signal)];
    const resync = this.#o.resyncPeriodMs ?? 300_000;
    let cancelResync = () => {};
    const scheduleResync = () => {
      if (resync <= 0) return;
      cancelResync = this.#o.timers.after(resync, () => {
        this.#forceFull = true;
        kick();
        scheduleResync();
      });
    };
    void Promise.all([pods.waitForSync(signal), namespaces.waitForSync(signal), policies.waitForSync(signal)]).then((done) => {
      if (!done.every(Boolean)) return;
      synced = true;
      this.#log.info("caches synced; enforcing NetworkPolicies", { node: this.#o.nodeName });
      kick();
      scheduleResync();
    });
    try {
      await Promise.all(runs);
    } finally {
      cancelResync();
      this.#cancelRetry();
      await this.#running;
    }
  }

  async #apply(want: PolicyRuleset): Promise<void> {
    const full = this.#applied === undefined || this.#forceFull;
    this.#forceFull = false;
    const script = full ? fullScript(this.#table, want) : diffScript(this.#table, this.#applied as PolicyRuleset, want);
    if (script === "") return;
    const err = await this.#nft(script);
    if (err !== undefined) {
      // The table's content is unknown now: the retry rebuilds it whole.
      this.#applied = undefined;
      this.#log.error("cannot program the NetworkPolicy rules", { full, err, retryInMs: this.#retryMs });
      this.#cancelRetry();
      this.#cancelRetry = this.#o.timers.after(this.#retryMs, () => this.#kick());
      this.#retryMs = Math.min(this.#retryMs * 2, 30_000);
      return;
    }
    this.#applied = want;
    this.#retryMs = this.#o.retryInitialMs ?? 1000;
    this.#syncs++;
    this.#log.debug("programmed the NetworkPolicy rules", { full, lines: script.split("\n").length - 1 });
  }

  /** Pods on one bridge talk without the forward hook unless br_netfilter hands bridged IPv4 to it: say so, loudly. */
  #checkBridgeNetfilter(): void {
    let value = "";
    try {
      value = readFileSync(BRIDGE_NF_CALL_IPTABLES, "utf8").trim();
    } catch {
      // No br_netfilter module: the same outcome as the setting off.
    }
    if (value !== "1") {
      this.#log.warn("bridged pod-to-pod traffic bypasses NetworkPolicy: net.bridge.bridge-nf-call-iptables is not 1 (is br_netfilter loaded?)", { setting: value || "absent" });
    }
  }

  /** Removes this enforcer's table (agent `--cleanup`, uninstall). */
  cleanup(): Promise<string | undefined> {
    return cleanupNetworkPolicyTable(this.#o.tableSuffix, this.#nft);
  }
}

/** Removes the policy table of `suffix`; succeeds when it is not there. */
export function cleanupNetworkPolicyTable(suffix: string, nft: NftRunner = systemNft): Promise<string | undefined> {
  return nft(deleteTableScript(policyTableName(suffix)));
}
