/**
 * The service proxy: kube-proxy's nftables mode (pkg/proxy/nftables) in
 * skiff, or its iptables mode (`mode: "iptables"`, iptables-backend.ts,
 * for machines without nftables). Watches Services and EndpointSlices,
 * turns each changed Service into port models (model.ts) and hands them to a backend
 * ({@link NftBackend} by default), which keeps the rules last applied for
 * each Service and sends one `nft -f -` transaction with only what changed
 * (chains flushed and refilled, stale chains deleted, map elements added
 * and deleted). Everything is rewritten only on start, after a failed
 * transaction and as a periodic check (`fullSyncPeriodMs`, an hour as
 * upstream). Syncs are rate limited as upstream's BoundedFrequencyRunner:
 * at most one per `minSyncPeriodMs`, a change after a quiet period is
 * applied at once. UDP conntrack entries of removed endpoints are deleted
 * after each sync (conntrack.ts).
 *
 * The table outlives the proxy (traffic keeps flowing while the agent
 * restarts); {@link cleanupServiceProxy} removes it.
 */
import { networkInterfaces } from "node:os";
import type { Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import { SharedInformer, stripManagedFields } from "../../client/informer.js";
import type { ListerWatcher } from "../../client/resource-client.js";
import { systemTimers, type Timers } from "../../client/timers.js";
import { cidrContainsIp, ipToNumber, tryParseCidr } from "../../machinery/cidr.js";
import type { Logger } from "../../machinery/log.js";
import type { ProxyBackend } from "./backend.js";
import { cleanupIptablesProxy, cleanupNftProxy } from "./cleanup.js";
import { type ConntrackRunner, conntrackCleanups, runConntrackCleanups, systemConntrack, udpPorts } from "./conntrack.js";
import { type ModelContext, type ServicePortModel, serviceModel, skipReason } from "./model.js";
import { proxyTableName } from "./names.js";
import { IptablesBackend } from "./iptables-backend.js";
import { iptablesChainPrefix } from "./iptables-names.js";
import { type IptablesRunner, systemIptables } from "./iptables-runner.js";
import { NftBackend } from "./nft-backend.js";
import { type NftRunner, systemNft } from "../nft-runner.js";
import type { NodePortMatch } from "./nft-script.js";

/** The label tying an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

/** Which rules the proxy writes (kube-proxy's `--proxy-mode`). */
export type ProxyMode = "nftables" | "iptables";

/** Options of {@link ServiceProxy}. */
export interface ServiceProxyOptions {
  /** nftables (default) or iptables (upstream's iptables mode, for machines without nftables). */
  readonly mode?: ProxyMode;
  readonly services: ListerWatcher<Service>;
  readonly endpointSlices: ListerWatcher<EndpointSlice>;
  /** This node: endpoints with this `nodeName` are local (the `Local` traffic policies). */
  readonly nodeName: string;
  /** This node's primary IPs: NodePorts listen on them by default. */
  readonly nodeIPs: readonly string[];
  /** The pod network: traffic to a ClusterIP from outside it is masqueraded. */
  readonly clusterCidr: string;
  /** When given, traffic to an address in it that no Service owns is rejected (admin-prohibited), as the service guard does. */
  readonly serviceCidr?: string;
  /**
   * Names the table `skiff_proxy_<suffix>` (the node's bridge name, so two agents on one machine never share it);
   * in iptables mode the chains' prefix `SKIFF-<hash of suffix>-`.
   */
  readonly tableSuffix: string;
  /**
   * Upstream's `--nodeport-addresses`: CIDRs and/or `primary` (the node IPs).
   * `0.0.0.0/0` matches every local address: but 127/8 in nftables mode,
   * with 127.0.0.1 (route_localnet=1) in iptables mode. The default is
   * each mode's upstream default: `primary` for nftables, every local
   * address for iptables.
   */
  readonly nodePortAddresses?: readonly string[];
  /** At most one sync per this period (upstream's --iptables-min-sync-period, 1 s); 0 applies every change at once. */
  readonly minSyncPeriodMs?: number;
  /** Retry delay after a failed sync (upstream's --sync-period, 30 s). */
  readonly syncPeriodMs?: number;
  /** The whole table is rewritten this often as a check (an hour, as upstream). */
  readonly fullSyncPeriodMs?: number;
  readonly logger: Logger;
  readonly timers?: Timers;
  /** Applies a script (default `nft -f -` here). */
  readonly nft?: NftRunner;
  /** Runs iptables-restore/-save (iptables mode; default the binaries here). */
  readonly iptables?: IptablesRunner;
  /** Where the rules go; default the nftables backend built from the options above. */
  readonly backend?: ProxyBackend;
  /** Runs `conntrack` (default: the binary here). */
  readonly conntrack?: ConntrackRunner;
  /** This node's IPv4 addresses, for `nodePortAddresses` CIDRs (default: the process's interfaces). */
  readonly localAddresses?: () => readonly string[];
  /** Called after every sync attempt. */
  readonly onSynced?: (report: SyncReport) => void;
}

/** What one sync did. */
export interface SyncReport {
  /** Whether it rewrote the whole table. */
  readonly full: boolean;
  /** Chains, sets and map elements touched (for a full sync: the Services written). */
  readonly changes: number;
  /** The Services (`ns/name`) whose rules were (re)computed. */
  readonly services: readonly string[];
  /** When the sync started and when the transaction was in the kernel (timers' clock, ms). */
  readonly startedAt: number;
  readonly appliedAt: number;
  /** Set when the transaction failed (then a full sync follows). */
  readonly error?: string;
}

function key(ns: string | undefined, name: string | undefined): string {
  return `${ns ?? ""}/${name ?? ""}`;
}

function defaultLocalAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).filter((a) => a.family === "IPv4").map((a) => a.address));
}

/** Resolves `--nodeport-addresses` to how NodePorts are matched; throws on an invalid entry. */
export function resolveNodePortAddresses(values: readonly string[] | undefined, nodeIPs: readonly string[], local: () => readonly string[]): NodePortMatch {
  const list = values === undefined || values.length === 0 ? ["primary"] : values;
  const ips = new Set<string>();
  const cidrs = [];
  for (const v of list) {
    if (v === "primary") {
      for (const ip of nodeIPs) ips.add(ip);
      continue;
    }
    const c = tryParseCidr(v);
    if (typeof c === "string") throw new Error(`invalid --nodeport-addresses entry "${v}": must be a CIDR or "primary"`);
    if (c.prefix === 0) return { matchAll: true };
    cidrs.push(c);
  }
  if (cidrs.length > 0) {
    for (const ip of local()) {
      const n = ipToNumber(ip);
      if (n !== undefined && !ip.startsWith("127.") && cidrs.some((c) => cidrContainsIp(c, n))) ips.add(ip);
    }
  }
  return { matchAll: false, ips: [...ips].sort() };
}

/** kube-proxy for one node, in nftables or iptables mode. */
export class ServiceProxy {
  readonly #o: ServiceProxyOptions;
  readonly #log: Logger;
  readonly #timers: Timers;
  readonly #backend: ProxyBackend;
  /** Removes the other mode's rules, left by an earlier run in that mode (upstream's CleanupLeftovers on start). */
  readonly #leftovers: (() => Promise<string | undefined>) | undefined;
  readonly #conntrack: ConntrackRunner;
  readonly #tableName: string;
  readonly #ctx: ModelContext;
  readonly #services = new Map<string, Service>();
  /** Service key → slice name → slice. */
  readonly #slices = new Map<string, Map<string, EndpointSlice>>();
  /** Slice key → the Service key it was filed under. */
  readonly #sliceOwner = new Map<string, string>();
  /** The port models whose rules are in the kernel, by Service key. */
  #applied = new Map<string, readonly ServicePortModel[]>();
  #dirty = new Set<string>();
  #needFull = true;
  #ready = false;
  #syncing: Promise<void> | undefined;
  #pending = false;
  #cancelTimer: (() => void) | undefined;
  #lastSyncAt = Number.NEGATIVE_INFINITY;
  readonly #listeners = new Set<(r: SyncReport) => void>();
  readonly #skipLogged = new Set<string>();
  /** An address and port (`ip proto port`, `nodeport proto port`) → the Services claiming it, the holder first. */
  readonly #claims = new Map<string, string[]>();
  /** Service → what it claims. */
  readonly #claimedBy = new Map<string, Set<string>>();
  #cancelHousekeeping: (() => void) | undefined;
  #cancelRetry: (() => void) | undefined;

  constructor(o: ServiceProxyOptions) {
    this.#o = o;
    this.#log = o.logger.with({ component: "service-proxy" });
    this.#timers = o.timers ?? systemTimers;
    this.#conntrack = o.conntrack ?? systemConntrack;
    if (typeof tryParseCidr(o.clusterCidr) === "string") throw new Error(`invalid cluster CIDR "${o.clusterCidr}"`);
    if (o.serviceCidr !== undefined && typeof tryParseCidr(o.serviceCidr) === "string") throw new Error(`invalid service CIDR "${o.serviceCidr}"`);
    this.#tableName = proxyTableName(o.tableSuffix);
    this.#ctx = { nodeName: o.nodeName };
    const mode = o.mode ?? "nftables";
    if (mode !== "nftables" && mode !== "iptables") throw new Error(`invalid proxy mode "${String(mode)}": must be nftables or iptables`);
    // Only where the other mode's tool is this machine's own (production) or was handed in: a test's fake nft
    // runner must never let the proxy touch the host's iptables, nor the reverse.
    const ownTools = o.nft === undefined && o.iptables === undefined;
    if (o.backend !== undefined) this.#leftovers = undefined;
    else if (mode === "iptables") this.#leftovers = ownTools || o.nft !== undefined ? () => cleanupNftProxy(o.tableSuffix, o.nft ?? systemNft) : undefined;
    else this.#leftovers = ownTools || o.iptables !== undefined ? () => cleanupIptablesProxy(o.tableSuffix, o.iptables ?? systemIptables) : undefined;
    if (o.backend !== undefined) this.#backend = o.backend;
    else if (mode === "iptables") {
      // Upstream's iptables mode listens on every local address by default, 127.0.0.1 included.
      const nodePorts = o.nodePortAddresses === undefined ? { matchAll: true as const } : resolveNodePortAddresses(o.nodePortAddresses, o.nodeIPs, o.localAddresses ?? defaultLocalAddresses);
      this.#backend = new IptablesBackend({
        config: {
          prefix: iptablesChainPrefix(o.tableSuffix),
          node: `${o.nodeName}, bridge ${o.tableSuffix}`,
          nodePorts,
          ...(o.serviceCidr !== undefined ? { serviceCidr: o.serviceCidr } : {}),
        },
        rules: { nodeIPs: o.nodeIPs, clusterCidr: o.clusterCidr },
        iptables: o.iptables ?? systemIptables,
        logger: this.#log,
      });
    } else {
      const nodePorts = resolveNodePortAddresses(o.nodePortAddresses, o.nodeIPs, o.localAddresses ?? defaultLocalAddresses);
      this.#backend = new NftBackend({
        table: { table: this.#tableName, nodePorts, ...(o.serviceCidr !== undefined ? { serviceCidr: o.serviceCidr } : {}) },
        rules: { nodeName: o.nodeName, nodeIPs: o.nodeIPs, clusterCidr: o.clusterCidr },
        nft: o.nft ?? systemNft,
      });
    }
    if (o.onSynced) this.#listeners.add(o.onSynced);
  }

  /** The nft table the default backend owns (nftables mode). */
  get tableName(): string {
    return this.#tableName;
  }

  /** What the backend programs, e.g. `nftables table ip skiff_proxy_cni0`. */
  get backendDescription(): string {
    return this.#backend.description;
  }

  /** Hears every sync report; returns a function that stops it. */
  addSyncListener(fn: (r: SyncReport) => void): () => void {
    this.#listeners.add(fn);
    return () => void this.#listeners.delete(fn);
  }

  /** Watches Services and EndpointSlices and keeps the table in step until `signal` aborts (the table stays). */
  async run(signal: AbortSignal): Promise<void> {
    if (this.#leftovers !== undefined) {
      // Both modes' DNAT hooks at the same priority would fight over every packet.
      const err = await this.#leftovers();
      if (err !== undefined) this.#log.warn("cannot remove the other proxy mode's rules", { err });
    }
    const common = { logger: this.#o.logger, timers: this.#timers };
    const services = new SharedInformer<Service>({ source: this.#o.services, name: "services-proxy", transform: stripManagedFields, ...common });
    const slices = new SharedInformer<EndpointSlice>({
      source: this.#o.endpointSlices,
      name: "endpointslices-proxy",
      transform: stripManagedFields,
      ...common,
    });
    services.addEventHandler({
      onAdd: (s) => this.#setService(s),
      onUpdate: (_o, s) => this.#setService(s),
      onDelete: (s) => {
        const k = key(s.metadata?.namespace, s.metadata?.name);
        this.#services.delete(k);
        this.#changed(k);
      },
    });
    slices.addEventHandler({
      onAdd: (s) => this.#setSlice(s),
      onUpdate: (_o, s) => this.#setSlice(s),
      onDelete: (s) => this.#deleteSlice(s),
    });
    const runs = [services.run(signal), slices.run(signal)];
    void Promise.all([services.waitForSync(signal), slices.waitForSync(signal)]).then(([a, b]) => {
      if (!a || !b || signal.aborted) return;
      this.#ready = true;
      this.#request();
    });
    const fullPeriod = this.#o.fullSyncPeriodMs ?? 3_600_000;
    let cancelFull = () => {};
    const fullTick = () => {
      this.#needFull = true;
      this.#request();
      cancelFull = this.#timers.after(fullPeriod, fullTick);
    };
    cancelFull = this.#timers.after(fullPeriod, fullTick);
    try {
      await Promise.all(runs);
    } finally {
      cancelFull();
      this.#cancelHousekeeping?.();
      this.#cancelHousekeeping = undefined;
      this.#cancelRetry?.();
      this.#cancelRetry = undefined;
      this.#cancelTimer?.();
      this.#cancelTimer = undefined;
      this.#ready = false;
      await this.#syncing;
    }
  }

  #setService(s: Service): void {
    const k = key(s.metadata?.namespace, s.metadata?.name);
    this.#services.set(k, s);
    const why = skipReason(s);
    if (why !== undefined && why !== "headless" && why !== "ExternalName" && !this.#skipLogged.has(k)) {
      this.#skipLogged.add(k);
      this.#log.warn("service not proxied", { service: k, reason: why });
    }
    this.#changed(k);
  }

  #setSlice(s: EndpointSlice): void {
    const sliceKey = key(s.metadata?.namespace, s.metadata?.name);
    const svcName = s.metadata?.labels?.[SERVICE_NAME_LABEL];
    const owner = svcName === undefined ? undefined : key(s.metadata?.namespace, svcName);
    const was = this.#sliceOwner.get(sliceKey);
    if (was !== undefined && was !== owner) {
      this.#slices.get(was)?.delete(sliceKey);
      this.#changed(was);
    }
    if (owner === undefined) {
      this.#sliceOwner.delete(sliceKey);
      return;
    }
    this.#sliceOwner.set(sliceKey, owner);
    let m = this.#slices.get(owner);
    if (m === undefined) {
      m = new Map();
      this.#slices.set(owner, m);
    }
    m.set(sliceKey, s);
    this.#changed(owner);
  }

  #deleteSlice(s: EndpointSlice): void {
    const sliceKey = key(s.metadata?.namespace, s.metadata?.name);
    const owner = this.#sliceOwner.get(sliceKey);
    if (owner === undefined) return;
    this.#sliceOwner.delete(sliceKey);
    const m = this.#slices.get(owner);
    m?.delete(sliceKey);
    if (m?.size === 0) this.#slices.delete(owner);
    this.#changed(owner);
  }

  #changed(k: string): void {
    this.#dirty.add(k);
    this.#request();
  }

  /** Schedules a sync: at once after a quiet period, else when `minSyncPeriodMs` since the last one has passed. */
  #request(): void {
    if (!this.#ready) return;
    if (this.#syncing !== undefined) {
      this.#pending = true;
      return;
    }
    if (this.#cancelTimer !== undefined) return;
    const min = this.#o.minSyncPeriodMs ?? 1000;
    const wait = Math.max(0, this.#lastSyncAt + min - this.#timers.now());
    this.#cancelTimer = this.#timers.after(wait, () => {
      this.#cancelTimer = undefined;
      this.#syncing = this.#sync().finally(() => {
        this.#syncing = undefined;
        if (this.#pending || this.#dirty.size > 0) {
          this.#pending = false;
          this.#request();
        }
      });
    });
  }

  #modelsFor(k: string): readonly ServicePortModel[] {
    const svc = this.#services.get(k);
    const models = svc === undefined ? [] : serviceModel(svc, this.#slices.get(k)?.values() ?? [], this.#ctx);
    return this.#claim(k, models);
  }

  /**
   * Two Services may claim one external address and port (the same external
   * IP, load-balancer IP or NodePort): the first keeps it, the other is not
   * proxied there (one map key has one verdict; adding it twice would fail
   * every transaction). When the holder lets go, the next claimant is synced
   * again and takes it over.
   */
  #claim(k: string, models: readonly ServicePortModel[]): readonly ServicePortModel[] {
    const claimsOf = (m: ServicePortModel) => [
      ...[...m.externalIPs, ...m.loadBalancerIPs].map((ip) => `${ip} ${m.name.protocol} ${m.port}`),
      ...(m.nodePort !== 0 ? [`nodeport ${m.name.protocol} ${m.nodePort}`] : []),
    ];
    const want = new Set(models.flatMap(claimsOf));
    const had = this.#claimedBy.get(k) ?? new Set<string>();
    for (const e of had) {
      if (want.has(e)) continue;
      const list = (this.#claims.get(e) ?? []).filter((x) => x !== k);
      if (list.length === 0) this.#claims.delete(e);
      else {
        this.#claims.set(e, list);
        this.#dirty.add(list[0] as string);
      }
    }
    for (const e of want) {
      if (had.has(e)) continue;
      const list = this.#claims.get(e);
      if (list === undefined) this.#claims.set(e, [k]);
      else list.push(k);
    }
    if (want.size === 0) this.#claimedBy.delete(k);
    else this.#claimedBy.set(k, want);
    const held = (e: string) => {
      const owner = this.#claims.get(e)?.[0];
      if (owner === k) return true;
      this.#log.warn("another Service already owns this address and port; not proxied there for this one", { service: k, owner, claim: e });
      return false;
    };
    return models.map((m) => {
      if (claimsOf(m).every((e) => this.#claims.get(e)?.[0] === k)) return m;
      const p = `${m.name.protocol} ${m.port}`;
      return {
        ...m,
        externalIPs: m.externalIPs.filter((ip) => held(`${ip} ${p}`)),
        loadBalancerIPs: m.loadBalancerIPs.filter((ip) => held(`${ip} ${p}`)),
        nodePort: m.nodePort !== 0 && held(`nodeport ${m.name.protocol} ${m.nodePort}`) ? m.nodePort : 0,
      };
    });
  }

  async #sync(): Promise<void> {
    if (!this.#ready) return;
    const startedAt = this.#timers.now();
    this.#lastSyncAt = startedAt;
    const full = this.#needFull;
    const keys = full ? new Set([...this.#services.keys(), ...this.#applied.keys()]) : this.#dirty;
    this.#dirty = new Set();
    const next = new Map<string, readonly ServicePortModel[]>();
    for (const k of keys) next.set(k, this.#modelsFor(k));
    const result = await this.#backend.sync(next, full, startedAt);
    const appliedAt = this.#timers.now();
    const services = [...keys];
    if (result.error !== undefined) {
      this.#needFull = true;
      this.#log.error("cannot apply the service rules; all of them are rewritten next", { backend: this.#backend.description, full, err: result.error });
      this.#report({ full, changes: 0, services, startedAt, appliedAt, error: result.error });
      // Retry on the sync period at the latest, as upstream's RetryAfter(syncPeriod); a change may sync sooner.
      this.#cancelRetry?.();
      this.#cancelRetry = this.#timers.after(this.#o.syncPeriodMs ?? 30_000, () => {
        this.#cancelRetry = undefined;
        this.#pending = true;
        this.#request();
      });
      return;
    }
    this.#needFull = false;
    this.#cancelRetry?.();
    this.#cancelRetry = undefined;
    // Housekeeping (stale chains) gets a sync of its own once syncs go quiet.
    this.#cancelHousekeeping?.();
    this.#cancelHousekeeping = undefined;
    const housekeeping = this.#backend.housekeepingDelayMs();
    if (housekeeping !== undefined) {
      this.#cancelHousekeeping = this.#timers.after(housekeeping, () => {
        this.#cancelHousekeeping = undefined;
        this.#pending = true;
        this.#request();
      });
    }
    const cleanups = [...next].flatMap(([k, m]) => conntrackCleanups(udpPorts(this.#applied.get(k) ?? []), udpPorts(m)));
    if (full) this.#applied = new Map();
    for (const [k, m] of next) {
      if (m.length === 0) this.#applied.delete(k);
      else this.#applied.set(k, m);
    }
    if (full) this.#log.info("wrote all service rules", { backend: this.#backend.description, services: result.changes, ms: appliedAt - startedAt });
    else if (result.changes > 0) this.#log.debug("applied service rule changes", { backend: this.#backend.description, changes: result.changes, ms: appliedAt - startedAt });
    if (cleanups.length > 0) {
      for (const err of await runConntrackCleanups(this.#conntrack, cleanups)) {
        this.#log.warn("cannot delete stale UDP conntrack entries", { err });
      }
    }
    // Reported once conntrack is clean too, so a waiter sees the whole sync done.
    this.#report({ full, changes: result.changes, services, startedAt, appliedAt });
  }

  #report(r: SyncReport): void {
    for (const fn of this.#listeners) {
      try {
        fn(r);
      } catch (err) {
        this.#log.error("sync listener failed", { err: (err as Error).message });
      }
    }
  }
}
