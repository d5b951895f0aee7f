/**
 * The Service registry strategy with allocation, as upstream's Service REST
 * (pkg/registry/core/service/storage: storage.go, alloc.go; strategy.go):
 * the shared static strategy's defaulting, plus
 *
 * - ClusterIP allocation for every type but ExternalName ("None" = headless:
 *   none), honouring a requested IP when it is in range and free;
 * - NodePort allocation for NodePort and LoadBalancer ports without one
 *   (LoadBalancer only when allocateLoadBalancerNodePorts, default true),
 *   honouring requested ports; a healthCheckNodePort for LoadBalancer with
 *   externalTrafficPolicy Local;
 * - on update: allocated values a client left out are kept (so re-applying
 *   the same YAML works), clusterIPs[0] is immutable, type changes allocate
 *   and release; on delete everything is released.
 *
 * Dry runs allocate nothing but report what a real request would trip over
 * (requested IP or port out of range or taken).
 */
import { findResource } from "../../api/resources.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { type FieldError, internalError, invalid, type StatusError } from "../../machinery/status-error.js";
import type { Store } from "../../storage/store.js";
import { strategyFor } from "../registry/strategies.js";
import type { KObject, Strategy, Undo, WriteOptions } from "../registry/types.js";
import { AllocationError } from "./allocation-error.js";
import { goNumber, goString, goStringPtr, goStrings, invalidValue } from "../../machinery/field-errors.js";
import { ipFamilyOf } from "./ip.js";
import { ServiceIPAllocator } from "./ip-allocator.js";
import { NodePortAllocator } from "./port-allocator.js";
import {
  collectNodePorts,
  externallyAccessible,
  isHeadless,
  NONE,
  needsClusterIP,
  needsHealthCheck,
  needsNodePort,
  num,
  portsOf,
  type ServiceSpecJSON,
  sameClusterIPs,
  sameIPFamilies,
  shouldAllocateNodePorts,
  specOf,
  str,
} from "./service-spec.js";
import { validateClusterIPsRelatedFields, validateService, validateServiceUpdate } from "./validation.js";

export interface ServiceStrategyOptions {
  /** ClusterIP range (IPv4), default 10.43.0.0/16. */
  readonly serviceCIDR?: string;
  /** NodePort range, inclusive, default [30000, 32767]. */
  readonly nodePortRange?: readonly [number, number];
  readonly logger?: Logger;
  /** Random source in [0, 1) for both allocators, for tests. */
  readonly random?: () => number;
}

/** The strategy plus the allocators behind it (for repair passes, tests and `skiff doctor`). */
export interface ServiceStrategy extends Strategy {
  readonly ips: ServiceIPAllocator;
  readonly nodePorts: NodePortAllocator;
}

/** Default ClientIP affinity timeout (core.DefaultClientIPServiceAffinitySeconds). */
const DEFAULT_CLIENT_IP_AFFINITY_SECONDS = 10800;

const SERVICES = findResource("", "v1", "services");

const nameOf = (o: KObject): string => o.metadata?.name ?? o.metadata?.generateName ?? "";

function invalidService(o: KObject, errors: FieldError[]): StatusError {
  return invalid("Service", "", nameOf(o), errors);
}

/**
 * The allocations and releases of one request, as upstream's
 * PortAllocationOperation and callbackTransaction: allocations happen at
 * once, releases are deferred to {@link commit}, {@link revert} gives back
 * what was allocated. In a dry run nothing is written; requested values are
 * still checked.
 */
class AllocationOp {
  private readonly ipsAllocated: string[] = [];
  private readonly portsAllocated: number[] = [];
  private readonly ipsToRelease: string[] = [];
  private readonly portsToRelease: number[] = [];
  private ipsReleased: string[] = [];
  private portsReleased: number[] = [];
  /** Ports a dry run pretends to hold, as upstream's operation does. */
  private readonly dryPorts: number[] = [];

  constructor(
    private readonly ips: ServiceIPAllocator,
    private readonly ports: NodePortAllocator,
    readonly dryRun: boolean,
    private readonly log: Logger,
  ) {}

  async allocateIP(ip: string): Promise<void> {
    if (this.dryRun) return this.ips.check(ip);
    await this.ips.allocate(ip);
    this.ipsAllocated.push(ip);
  }

  async allocateNextIP(): Promise<string> {
    if (this.dryRun) return this.ips.dryRunNext();
    const ip = await this.ips.allocateNext();
    this.ipsAllocated.push(ip);
    return ip;
  }

  async allocatePort(port: number): Promise<void> {
    if (this.dryRun) {
      await this.ports.check(port);
      if (this.dryPorts.includes(port)) throw new AllocationError("allocated", "provided port is already allocated");
      this.dryPorts.push(port);
      return;
    }
    await this.ports.allocate(port);
    this.portsAllocated.push(port);
  }

  async allocateNextPort(): Promise<number> {
    if (this.dryRun) {
      // Upstream's dry run hands out dummy values above the last one it holds.
      const last = this.dryPorts.length === 0 ? 32768 : Math.max(...this.dryPorts);
      this.dryPorts.push(last + 1);
      return last + 1;
    }
    const port = await this.ports.allocateNext();
    this.portsAllocated.push(port);
    return port;
  }

  releaseIPLater(ip: string): void {
    this.ipsToRelease.push(ip);
  }

  releasePortLater(port: number): void {
    this.portsToRelease.push(port);
  }

  /** Gives back everything this operation allocated. */
  async revert(): Promise<void> {
    if (this.dryRun) return;
    for (const ip of this.ipsAllocated.splice(0)) await this.bestEffort(() => this.ips.release(ip), `release ClusterIP ${ip}`);
    for (const p of this.portsAllocated.splice(0)) await this.bestEffort(() => this.ports.release(p), `release NodePort ${p}`);
  }

  /** Performs the deferred releases. */
  async commit(): Promise<void> {
    if (this.dryRun) return;
    for (const ip of this.ipsToRelease) if (await this.bestEffort(() => this.ips.release(ip), `release ClusterIP ${ip}`)) this.ipsReleased.push(ip);
    for (const p of this.portsToRelease) if (await this.bestEffort(() => this.ports.release(p), `release NodePort ${p}`)) this.portsReleased.push(p);
  }

  /** Takes back what {@link commit} released, when the write it belonged to failed. */
  async reacquire(): Promise<void> {
    if (this.dryRun) return;
    const ips = this.ipsReleased;
    const ports = this.portsReleased;
    this.ipsReleased = [];
    this.portsReleased = [];
    for (const ip of ips) await this.bestEffort(() => this.ips.allocate(ip), `re-reserve ClusterIP ${ip} after a failed update`);
    for (const p of ports) await this.bestEffort(() => this.ports.allocate(p), `re-reserve NodePort ${p} after a failed update`);
  }

  private async bestEffort(fn: () => Promise<void>, what: string): Promise<boolean> {
    try {
      await fn();
      return true;
    } catch (err) {
      this.log.warn("service allocation cleanup failed", { action: what, err: err instanceof Error ? err.message : String(err) });
      return false;
    }
  }
}

// ---- field fix-ups (storage.go / strategy.go) ----

/** `normalizeClusterIPs`: keeps clusterIP and clusterIPs in step for clients that set only one. */
export function normalizeClusterIPs(spec: ServiceSpecJSON, old: ServiceSpecJSON | undefined): void {
  const ip = str(spec.clusterIP);
  const ips = Array.isArray(spec.clusterIPs) ? spec.clusterIPs : [];
  if (!old) {
    if (ip.length > 0 && ips.length === 0) spec.clusterIPs = [ip];
    return;
  }
  const oldIPs = Array.isArray(old.clusterIPs) ? old.clusterIPs : [];
  // An old client patching something else dropped clusterIPs but kept clusterIP.
  if (oldIPs.length > 0 && ips.length === 0 && str(old.clusterIP) === ip) spec.clusterIPs = [...oldIPs];
  if (str(old.clusterIP) !== str(spec.clusterIP)) {
    if (str(old.clusterIP).length > 0 && str(spec.clusterIP).length === 0) {
      if (sameClusterIPs(old, spec)) delete spec.clusterIPs;
    } else if (sameClusterIPs(old, spec)) {
      spec.clusterIPs = [str(spec.clusterIP)];
    }
  }
}

/** `patchAllocatedValues`: values allocated earlier that a client left out are kept. */
export function patchAllocatedValues(spec: ServiceSpecJSON, old: ServiceSpecJSON): void {
  if (needsClusterIP(old) && needsClusterIP(spec)) {
    if (str(spec.clusterIP) === "" && old.clusterIP !== undefined) spec.clusterIP = old.clusterIP;
    if ((spec.clusterIPs ?? []).length === 0 && (old.clusterIPs ?? []).length > 0) spec.clusterIPs = [...old.clusterIPs!];
  }
  if (needsNodePort(old) && needsNodePort(spec)) {
    const usedOld = new Set(portsOf(old).map((p) => num(p.nodePort)).filter((n) => n !== 0));
    const usedNew = new Set(portsOf(spec).map((p) => num(p.nodePort)).filter((n) => n !== 0));
    const used = new Set([...usedOld].filter((n) => usedNew.has(n)));
    // By port name: the user may have changed other properties of the port.
    const byName = new Map<string, number>();
    for (const p of portsOf(old)) byName.set(str(p.name), num(p.nodePort));
    for (const p of portsOf(spec)) {
      if (num(p.nodePort) !== 0) continue;
      const oldVal = byName.get(str(p.name)) ?? 0;
      if (oldVal !== 0 && !used.has(oldVal)) p.nodePort = oldVal;
    }
  }
  if (needsHealthCheck(old) && needsHealthCheck(spec) && num(spec.healthCheckNodePort) === 0 && num(old.healthCheckNodePort) !== 0) {
    spec.healthCheckNodePort = old.healthCheckNodePort;
  }
}

/** `dropTypeDependentFields`: fields a type change leaves meaningless are cleared, unless the user changed them too. */
export function dropTypeDependentFields(o: KObject, spec: ServiceSpecJSON, old: ServiceSpecJSON): void {
  if (needsClusterIP(old) && !needsClusterIP(spec)) {
    if (sameClusterIPs(old, spec)) {
      // Released by the allocation step.
      delete spec.clusterIP;
      delete spec.clusterIPs;
    }
    if (sameIPFamilies(old, spec)) delete spec.ipFamilies;
    if ((old.ipFamilyPolicy ?? undefined) === (spec.ipFamilyPolicy ?? undefined)) delete spec.ipFamilyPolicy;
  }
  if (needsNodePort(old) && !needsNodePort(spec)) {
    const oldPorts = new Set(portsOf(old).map((p) => num(p.nodePort)).filter((n) => n !== 0));
    const onlyOld = portsOf(spec).every((p) => num(p.nodePort) === 0 || oldPorts.has(num(p.nodePort)));
    if (onlyOld) for (const p of portsOf(spec)) delete p.nodePort;
  }
  if (needsHealthCheck(old) && !needsHealthCheck(spec) && num(old.healthCheckNodePort) === num(spec.healthCheckNodePort)) {
    delete spec.healthCheckNodePort;
  }
  if (old.type === "LoadBalancer" && spec.type !== "LoadBalancer") {
    if (typeof spec.allocateLoadBalancerNodePorts === "boolean" && spec.allocateLoadBalancerNodePorts === old.allocateLoadBalancerNodePorts) {
      delete spec.allocateLoadBalancerNodePorts;
    }
    if ((old.loadBalancerClass ?? undefined) === (spec.loadBalancerClass ?? undefined)) delete spec.loadBalancerClass;
    // The load balancer no longer applies.
    if (o.status && typeof o.status === "object") (o.status as Record<string, unknown>).loadBalancer = {};
  }
  if (externallyAccessible(old) && !externallyAccessible(spec) && str(old.externalTrafficPolicy) === str(spec.externalTrafficPolicy)) {
    delete spec.externalTrafficPolicy;
  }
}

/**
 * `initIPFamilyFields`: settles ipFamilyPolicy and ipFamilies against what
 * the cluster serves (`families`, primary first) before allocation.
 */
export function initIPFamilyFields(spec: ServiceSpecJSON, old: ServiceSpecJSON | undefined, families: readonly string[]): FieldError[] {
  if (spec.type === "ExternalName") return [];
  if (old && old.ipFamilyPolicy === "PreferDualStack" && sameClusterIPs(old, spec) && sameIPFamilies(old, spec)) return [];

  if (spec.ipFamilyPolicy === undefined || spec.ipFamilyPolicy === null) {
    if (old?.ipFamilyPolicy) spec.ipFamilyPolicy = old.ipFamilyPolicy;
    else if (str(spec.clusterIP) === NONE && Object.keys(spec.selector ?? {}).length === 0) spec.ipFamilyPolicy = "RequireDualStack";
    else spec.ipFamilyPolicy = "SingleStack";
  }

  const pre = validateClusterIPsRelatedFields(spec);
  if (pre.length > 0) return pre;

  const errs: FieldError[] = [];
  const policy = spec.ipFamilyPolicy;
  const ips = spec.clusterIPs ?? [];
  spec.ipFamilies = Array.isArray(spec.ipFamilies) ? spec.ipFamilies : [];

  if (old) {
    if (policy === "SingleStack") {
      if (sameClusterIPs(old, spec) && ips.length > 1) spec.clusterIPs = ips.slice(0, 1);
      if (sameIPFamilies(old, spec) && spec.ipFamilies.length > 1) spec.ipFamilies = spec.ipFamilies.slice(0, 1);
    } else {
      if (ips.length > 0 && ips.length < (old.clusterIPs ?? []).length) {
        errs.push(invalidValue("spec.ipFamilyPolicy", goStringPtr(policy), "must be 'SingleStack' to release the secondary cluster IP"));
      }
      if (spec.ipFamilies.length > 0 && spec.ipFamilies.length < (old.ipFamilies ?? []).length) {
        errs.push(invalidValue("spec.ipFamilyPolicy", goStringPtr(policy), "must be 'SingleStack' to release the secondary IP family"));
      }
    }
  }

  if (policy === "SingleStack") {
    if ((spec.clusterIPs ?? []).length === 2) {
      errs.push(invalidValue("spec.ipFamilyPolicy", goStringPtr(policy), "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified"));
    }
    if (spec.ipFamilies.length === 2) {
      errs.push(invalidValue("spec.ipFamilyPolicy", goStringPtr(policy), "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified"));
    }
  }

  // Families not given are read off the requested IPs.
  const clusterIPs = spec.clusterIPs ?? [];
  for (let i = 0; i < clusterIPs.length; i++) {
    const ip = clusterIPs[i]!;
    if (ip === NONE) break;
    const fam = ipFamilyOf(ip)!;
    if (i >= spec.ipFamilies.length) {
      if (!families.includes(fam)) errs.push(invalidValue(`spec.clusterIPs[${i}]`, goStrings(clusterIPs), `${fam} is not configured on this cluster`));
      else spec.ipFamilies.push(fam);
    }
  }
  if (errs.length > 0) return errs;

  // Headless without a selector may name families the cluster does not serve.
  if (str(spec.clusterIP) === NONE && Object.keys(spec.selector ?? {}).length === 0) {
    if (spec.ipFamilies.length === 0) spec.ipFamilies = [families[0]!];
    if (spec.ipFamilies.length < 2 && policy !== "SingleStack") spec.ipFamilies.push(spec.ipFamilies[0] === "IPv4" ? "IPv6" : "IPv4");
    return [];
  }

  if (policy === "RequireDualStack" && families.length < 2) {
    errs.push(invalidValue("spec.ipFamilyPolicy", goStringPtr(policy), "this cluster is not configured for dual-stack services"));
  }
  spec.ipFamilies.forEach((fam, i) => {
    if (!families.includes(fam)) errs.push(invalidValue(`spec.ipFamilies[${i}]`, goString(fam), "not configured on this cluster"));
  });
  if (errs.length > 0) return errs;

  if (spec.ipFamilies.length === 0) spec.ipFamilies = [families[0]!];
  if (policy !== "SingleStack" && spec.ipFamilies.length === 1 && families.length === 2) {
    spec.ipFamilies.push(spec.ipFamilies[0] === "IPv4" ? "IPv6" : "IPv4");
  }
  return [];
}

// ---- the strategy ----

/**
 * The Service strategy for `ApiServerOptions.strategyFor`, allocating from
 * bitmaps kept in `store` (shared by every API server on that store).
 */
export function serviceStrategy(store: Store, opts: ServiceStrategyOptions = {}): ServiceStrategy {
  if (!SERVICES) throw new Error("services are not in the resource catalog");
  const base = strategyFor(SERVICES);
  const log = (opts.logger ?? silentLogger).with({ component: "service-allocator" });
  const ips = new ServiceIPAllocator({ store, cidr: opts.serviceCIDR, random: opts.random });
  const nodePorts = new NodePortAllocator({ store, range: opts.nodePortRange, random: opts.random });
  const families: readonly string[] = [ips.family];

  const op = (dryRun: boolean | undefined) => new AllocationOp(ips, nodePorts, !!dryRun, log);

  /** Runs `fn`, turning an allocator failure into upstream's Status. */
  async function allocating(fn: () => Promise<void>, onAllocationError: (e: AllocationError) => StatusError): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (err instanceof AllocationError) throw onAllocationError(err);
      throw err;
    }
  }

  async function allocClusterIPs(o: KObject, spec: ServiceSpecJSON, txn: AllocationOp): Promise<void> {
    if (!needsClusterIP(spec) || isHeadless(spec)) return;
    const fams = spec.ipFamilies ?? [];
    const clusterIPs = Array.isArray(spec.clusterIPs) ? spec.clusterIPs : [];
    for (let i = clusterIPs.length; i < fams.length; i++) clusterIPs.push("");
    spec.clusterIPs = clusterIPs;
    for (let i = 0; i < fams.length; i++) {
      if (!families.includes(fams[i]!)) throw internalError(`failed to allocate a serviceIP: ${fams[i]} is not configured on this cluster`);
      const requested = clusterIPs[i]!;
      if (requested === "") {
        let ip = "";
        await allocating(
          async () => {
            ip = await txn.allocateNextIP();
          },
          (e) => internalError(`failed to allocate a serviceIP: ${e.message}`),
        );
        clusterIPs[i] = ip;
      } else {
        await allocating(
          () => txn.allocateIP(requested),
          (e) => invalidService(o, [invalidValue("spec.clusterIPs", goStrings(clusterIPs), `failed to allocate IP ${requested}: ${e.message}`)]),
        );
      }
      if (i === 0) spec.clusterIP = clusterIPs[0];
    }
  }

  /** `initNodePorts` (create): ports sharing a port number share one NodePort. */
  async function initNodePorts(o: KObject, spec: ServiceSpecJSON, txn: AllocationOp): Promise<void> {
    const ports = portsOf(spec);
    const byPort = new Map<number, number>();
    for (let i = 0; i < ports.length; i++) {
      const sp = ports[i]!;
      if (num(sp.nodePort) === 0 && !shouldAllocateNodePorts(spec)) continue;
      const taken = byPort.get(num(sp.port)) ?? 0;
      if (taken === 0) {
        const requested = ports.find((p) => num(p.port) === num(sp.port) && num(p.nodePort) !== 0);
        const np = requested ? num(requested.nodePort) : 0;
        if (np !== 0) {
          await allocating(
            () => txn.allocatePort(np),
            (e) => invalidService(o, [invalidValue(`spec.ports[${i}].nodePort`, goNumber(np), e.message)]),
          );
          sp.nodePort = np;
          byPort.set(num(sp.port), np);
        } else {
          let got = 0;
          await allocating(
            async () => {
              got = await txn.allocateNextPort();
            },
            (e) => internalError(`failed to allocate a nodePort: ${e.message}`),
          );
          sp.nodePort = got;
          byPort.set(num(sp.port), got);
        }
      } else if (num(sp.nodePort) !== taken) {
        if (num(sp.nodePort) === 0) sp.nodePort = taken;
        else {
          const np = num(sp.nodePort);
          await allocating(
            () => txn.allocatePort(np),
            (e) => invalidService(o, [invalidValue(`spec.ports[${i}].nodePort`, goNumber(np), e.message)]),
          );
        }
      }
    }
  }

  async function allocHealthCheckNodePort(spec: ServiceSpecJSON, txn: AllocationOp): Promise<void> {
    const hc = num(spec.healthCheckNodePort);
    if (hc !== 0) {
      await allocating(
        () => txn.allocatePort(hc),
        (e) => internalError(`failed to allocate requested HealthCheck NodePort ${hc}: ${e.message}`),
      );
    } else {
      let got = 0;
      await allocating(
        async () => {
          got = await txn.allocateNextPort();
        },
        // Upstream prints the (still zero) port here.
        (e) => internalError(`failed to allocate a HealthCheck NodePort 0: ${e.message}`),
      );
      spec.healthCheckNodePort = got;
    }
  }

  /** `updateClusterIPs`: type changes to and from ExternalName. */
  async function updateClusterIPs(o: KObject, spec: ServiceSpecJSON, old: ServiceSpecJSON, txn: AllocationOp): Promise<void> {
    // isMatchingPreferDualStackClusterIPFields: nothing asked of a PreferDualStack Service.
    if (old.ipFamilyPolicy === "PreferDualStack" && sameClusterIPs(old, spec) && sameIPFamilies(old, spec)) return;
    if (old.type === "ExternalName" && spec.type !== "ExternalName") return allocClusterIPs(o, spec, txn);
    if (isHeadless(old)) return;
    if (old.type !== "ExternalName" && spec.type === "ExternalName") {
      for (const ip of old.clusterIPs ?? []) if (ip && ip !== NONE) txn.releaseIPLater(ip);
      return;
    }
    // Dual-stack upgrade and downgrade.
    const oldFams = old.ipFamilies ?? [];
    const newFams = spec.ipFamilies ?? [];
    if (oldFams.length === 2 && newFams.length === 1 && (old.clusterIPs ?? [])[1]) txn.releaseIPLater(old.clusterIPs![1]!);
  }

  /** `txnUpdateNodePorts` + `updateNodePorts` + `updateHealthCheckNodePort`. */
  async function updateNodePorts(o: KObject, spec: ServiceSpecJSON, old: ServiceSpecJSON, txn: AllocationOp): Promise<void> {
    if (needsNodePort(old) && (spec.type === "ExternalName" || spec.type === "ClusterIP")) {
      for (const p of collectNodePorts(old)) txn.releasePortLater(p);
    }
    if (needsNodePort(spec)) {
      const oldNumbers = collectNodePorts(old);
      const seen: string[] = [];
      const allocated = new Set<number>();
      const ports = portsOf(spec);
      for (let i = 0; i < ports.length; i++) {
        const sp = ports[i]!;
        if (num(sp.nodePort) === 0 && !shouldAllocateNodePorts(spec)) continue;
        const np = num(sp.nodePort);
        if (np !== 0) {
          if (!oldNumbers.includes(np) && !allocated.has(np)) {
            await allocating(
              () => txn.allocatePort(np),
              (e) => invalidService(o, [invalidValue(`spec.ports[${i}].nodePort`, goNumber(np), e.message)]),
            );
            allocated.add(np);
          }
        } else {
          let got = 0;
          await allocating(
            async () => {
              got = await txn.allocateNextPort();
            },
            (e) => internalError(`failed to allocate a nodePort: ${e.message}`),
          );
          sp.nodePort = got;
        }
        const key = `${str(sp.protocol)} ${num(sp.nodePort)}`;
        if (seen.includes(key)) throw internalError(`duplicate nodePort: {${key}}`);
        seen.push(key);
      }
      const newNumbers = collectNodePorts(spec);
      for (const p of oldNumbers) if (!newNumbers.includes(p)) txn.releasePortLater(p);
    }

    const needed = needsHealthCheck(old);
    const needs = needsHealthCheck(spec);
    if (!needed && needs) {
      await allocHealthCheckNodePort(spec, txn);
    } else if (needed && !needs) {
      if (num(old.healthCheckNodePort) !== 0) txn.releasePortLater(num(old.healthCheckNodePort));
      delete spec.healthCheckNodePort;
    }
  }

  async function releaseAll(o: KObject): Promise<void> {
    const spec = specOf(o);
    const who = `${o.metadata?.namespace ?? ""}/${nameOf(o)}`;
    const attempt = async (fn: () => Promise<void>, what: string) => {
      try {
        await fn();
      } catch (err) {
        log.error("failed to release service allocation", { service: who, what, err: err instanceof Error ? err.message : String(err) });
      }
    };
    if (needsClusterIP(spec) && !isHeadless(spec)) {
      for (const ip of spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : [])) {
        if (ip && ip !== NONE && ipFamilyOf(ip) === ips.family) await attempt(() => ips.release(ip), `clusterIP ${ip}`);
      }
    }
    for (const p of collectNodePorts(spec)) await attempt(() => nodePorts.release(p), `nodePort ${p}`);
  }

  return {
    ...base,
    // Upstream's svcStrategy.AllowCreateOnUpdate: a PUT may create a Service.
    allowCreateOnUpdate: true,
    ips,
    nodePorts,

    prepareForCreate(o) {
      base.prepareForCreate?.(o);
      o.status = { loadBalancer: {} };
      normalizeClusterIPs(specOf(o), undefined);
    },

    defaults(o) {
      const spec = specOf(o);
      // The shared strategy fills ipFamilies/ipFamilyPolicy; upstream settles
      // them at allocation time (initIPFamilyFields), where a PUT that omits
      // them keeps the stored ones. Leave unset what the client left unset.
      const hadFamilies = spec.ipFamilies !== undefined && spec.ipFamilies !== null;
      const hadPolicy = spec.ipFamilyPolicy !== undefined && spec.ipFamilyPolicy !== null;
      base.defaults?.(o);
      if (!hadFamilies) delete spec.ipFamilies;
      if (!hadPolicy) delete spec.ipFamilyPolicy;
      // The rest of upstream's SetDefaults_Service.
      if (spec.sessionAffinity === "None") delete spec.sessionAffinityConfig;
      if (spec.sessionAffinity === "ClientIP") {
        const cfg = spec.sessionAffinityConfig;
        if (!cfg?.clientIP || cfg.clientIP.timeoutSeconds === undefined || cfg.clientIP.timeoutSeconds === null) {
          spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: DEFAULT_CLIENT_IP_AFFINITY_SECONDS } };
        }
      }
      for (const p of portsOf(spec)) if (p.targetPort === 0 || p.targetPort === "") p.targetPort = p.port;
      if (externallyAccessible(spec) && !spec.externalTrafficPolicy) spec.externalTrafficPolicy = "Cluster";
      if (spec.type === "LoadBalancer" && (spec.allocateLoadBalancerNodePorts === undefined || spec.allocateLoadBalancerNodePorts === null)) {
        spec.allocateLoadBalancerNodePorts = true;
      }
      // Upstream drops it on read for ExternalName (defaultOnReadInternalTrafficPolicy).
      if (spec.type === "ExternalName") delete spec.internalTrafficPolicy;
    },

    validateCreate(o) {
      const spec = specOf(o);
      normalizeClusterIPs(spec, undefined);
      const famErrs = initIPFamilyFields(spec, undefined, families);
      if (famErrs.length > 0) return famErrs;
      return validateService(o);
    },

    validateUpdate(o, old) {
      // The registry has no prepare-for-update hook; these fix-ups are
      // idempotent and must precede validation, as upstream's do.
      const spec = specOf(o);
      const oldSpec = specOf(old);
      patchAllocatedValues(spec, oldSpec);
      normalizeClusterIPs(spec, oldSpec);
      const famErrs = initIPFamilyFields(spec, oldSpec, families);
      if (famErrs.length > 0) return famErrs;
      dropTypeDependentFields(o, spec, oldSpec);
      return validateServiceUpdate(o, old);
    },

    async beforeCreate(o: KObject, w: WriteOptions): Promise<Undo | undefined> {
      const spec = specOf(o);
      const txn = op(w.dryRun);
      try {
        await allocClusterIPs(o, spec, txn);
        if (needsNodePort(spec)) await initNodePorts(o, spec, txn);
        if (needsHealthCheck(spec)) await allocHealthCheckNodePort(spec, txn);
      } catch (err) {
        await txn.revert();
        throw err;
      }
      return txn.dryRun ? undefined : () => txn.revert();
    },

    async beforeUpdate(o: KObject, old: KObject, w: WriteOptions): Promise<Undo | undefined> {
      const spec = specOf(o);
      const oldSpec = specOf(old);
      const txn = op(w.dryRun);
      try {
        await updateClusterIPs(o, spec, oldSpec, txn);
        await updateNodePorts(o, spec, oldSpec, txn);
      } catch (err) {
        await txn.revert();
        throw err;
      }
      if (txn.dryRun) return undefined;
      // The registry offers no after-write hook, so deferred releases happen
      // now and are taken back if the write fails.
      await txn.commit();
      return async () => {
        await txn.revert();
        await txn.reacquire();
      };
    },

    async afterDelete(o) {
      await releaseAll(o);
    },
  };
}
