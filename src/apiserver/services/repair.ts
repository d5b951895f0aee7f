/**
 * The ClusterIP and NodePort repair loops, as upstream's
 * ipallocator/controller/repair.go and portallocator/controller/repair.go:
 * rebuild each bitmap from the Services that exist, so that
 *
 * - values Services hold but the bitmap lacks are marked (after a restore, a
 *   crash between bitmap and object write, …);
 * - a bitmap written for another range (the service CIDR or node port range
 *   changed) is rewritten for the configured one, and Services outside it are
 *   reported ("please recreate service");
 * - values the bitmap holds but no Service uses are freed only after they
 *   have looked leaked for several runs in a row (3 by default), because a
 *   create may have allocated and not yet written its Service.
 *
 * Upstream runs this once before serving and then every 3 minutes.
 */
import { type Logger, silentLogger } from "../../machinery/log.js";
import type { ObjectStore } from "../registry/object-store.js";
import type { KObject } from "../registry/types.js";
import type { ServiceIPAllocator } from "./ip-allocator.js";
import type { NodePortAllocator } from "./port-allocator.js";
import type { RangeBitmap } from "./range-allocation.js";
import { isHeadless, NONE, needsClusterIP, num, portsOf, specOf } from "./service-spec.js";

export interface ServiceAllocationRepairOptions {
  /** Services registry (lists every namespace). */
  readonly services: ObjectStore;
  readonly ips: ServiceIPAllocator;
  readonly nodePorts: NodePortAllocator;
  readonly logger?: Logger;
  /** Consecutive runs a value must look leaked before it is freed; upstream's numRepairsBeforeLeakCleanup is 3. */
  readonly repairsBeforeLeakCleanup?: number;
}

/** What one pass over one range found and did. */
export interface RangeRepairReport {
  /** The stored bitmap covered another range and was rewritten. */
  readonly rangeChanged: boolean;
  /** Values Services hold that were not marked (now marked), as `value ns/name`. */
  readonly repaired: string[];
  /** Values held by more than one Service, as `value ns/name`. */
  readonly duplicates: string[];
  /** Values outside the configured range or unparsable, as `value ns/name`. */
  readonly outOfRange: string[];
  /** Values marked but unused, kept for now. */
  readonly leaksKept: number;
  /** Values marked but unused for long enough, now freed. */
  readonly leaksReleased: string[];
}

export interface RepairReport {
  readonly clusterIPs: RangeRepairReport;
  readonly nodePorts: RangeRepairReport;
}

interface Held {
  readonly who: string;
  readonly values: readonly string[];
}

interface RangeSpec {
  readonly kind: "ClusterIP" | "NodePort";
  readonly bitmap: RangeBitmap;
  readonly toOffset: (v: string) => number | undefined;
  readonly fromOffset: (o: number) => string;
  readonly held: (services: readonly KObject[]) => Held[];
  readonly leaks: Map<number, number>;
}

const who = (o: KObject) => `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;

export class ServiceAllocationRepair {
  private readonly opts: ServiceAllocationRepairOptions;
  private readonly log: Logger;
  private readonly ipLeaks = new Map<number, number>();
  private readonly portLeaks = new Map<number, number>();

  constructor(opts: ServiceAllocationRepairOptions) {
    this.opts = opts;
    this.log = (opts.logger ?? silentLogger).with({ component: "service-allocation-repair" });
  }

  /** One pass over both ranges; retries internally when a concurrent allocation moves a bitmap. */
  async runOnce(): Promise<RepairReport> {
    const { ips, nodePorts } = this.opts;
    const clusterIPs = await this.repair({
      kind: "ClusterIP",
      bitmap: ips.bitmap,
      toOffset: (v) => ips.offsetOf(v),
      fromOffset: (o) => ips.ipAt(o),
      leaks: this.ipLeaks,
      held: (services) =>
        services.flatMap((o) => {
          const spec = specOf(o);
          if (!needsClusterIP(spec) || isHeadless(spec)) return [];
          const list = Array.isArray(spec.clusterIPs) ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
          // Only this range's family; other families belong to other allocators.
          const values = list.filter((ip) => ip && ip !== NONE && !ip.includes(":"));
          return values.length > 0 ? [{ who: who(o), values }] : [];
        }),
    });
    const ports = await this.repair({
      kind: "NodePort",
      bitmap: nodePorts.bitmap,
      toOffset: (v) => (nodePorts.contains(Number(v)) ? Number(v) - nodePorts.base : undefined),
      fromOffset: (o) => String(nodePorts.base + o),
      leaks: this.portLeaks,
      held: (services) =>
        services.flatMap((o) => {
          const spec = specOf(o);
          // One node port may serve several protocols of one Service.
          const set = new Set<number>();
          for (const p of portsOf(spec)) if (num(p.nodePort) !== 0) set.add(num(p.nodePort));
          if (num(spec.healthCheckNodePort) !== 0) set.add(num(spec.healthCheckNodePort));
          return set.size > 0 ? [{ who: who(o), values: [...set].map(String) }] : [];
        }),
    });
    return { clusterIPs, nodePorts: ports };
  }

  private async repair(r: RangeSpec): Promise<RangeRepairReport> {
    const cleanupAfter = this.opts.repairsBeforeLeakCleanup ?? 3;
    for (let attempt = 0; ; attempt++) {
      // The bitmap first, then the Services: an allocation in between moves
      // the bitmap's revision and the write below fails, so we go again.
      const snap = await r.bitmap.snapshot();
      const services = (await this.opts.services.list(undefined)).items;
      const rangeChanged = snap.revision !== 0 && snap.range !== r.bitmap.rangeSpec;
      const stored = new Set(snap.used);
      const rebuilt = new Set<number>();
      const report = { rangeChanged, repaired: [] as string[], duplicates: [] as string[], outOfRange: [] as string[], leaksKept: 0, leaksReleased: [] as string[] };
      const leaks = new Map(r.leaks);
      for (const h of r.held(services)) {
        for (const v of h.values) {
          const off = r.toOffset(v);
          if (off === undefined) {
            report.outOfRange.push(`${v} ${h.who}`);
            continue;
          }
          if (rebuilt.has(off)) {
            report.duplicates.push(`${v} ${h.who}`);
            continue;
          }
          rebuilt.add(off);
          if (!stored.has(off)) report.repaired.push(`${v} ${h.who}`);
          leaks.delete(off);
        }
      }
      for (const off of stored) {
        if (rebuilt.has(off)) continue;
        const left = (leaks.get(off) ?? cleanupAfter) - 1;
        if (left > 0) {
          rebuilt.add(off);
          leaks.set(off, left);
          report.leaksKept++;
        } else {
          leaks.delete(off);
          report.leaksReleased.push(r.fromOffset(off));
        }
      }
      // Counters of values no longer stored are stale.
      for (const off of [...leaks.keys()]) if (!stored.has(off)) leaks.delete(off);

      const unchanged = !rangeChanged && snap.revision !== 0 && rebuilt.size === stored.size && [...rebuilt].every((o) => stored.has(o));
      if (unchanged || (await r.bitmap.replace(rebuilt, snap.revision))) {
        r.leaks.clear();
        for (const [k, v] of leaks) r.leaks.set(k, v);
        this.logReport(r.kind, r.bitmap.rangeSpec, snap.range, report);
        return report;
      }
      if (attempt >= 20) throw new Error(`${r.bitmap.key}: repair kept conflicting with concurrent allocations`);
    }
  }

  private logReport(kind: string, range: string, storedRange: string, rep: RangeRepairReport): void {
    if (rep.rangeChanged) this.log.warn(`${kind} range changed; allocations rebuilt`, { from: storedRange, to: range });
    for (const x of rep.repaired) this.log.warn(`${kind} was not allocated; repairing`, { value: x.split(" ")[0], service: x.split(" ")[1] });
    for (const x of rep.duplicates) {
      this.log.error(`${kind} was assigned to multiple services; please recreate service`, { value: x.split(" ")[0], service: x.split(" ")[1] });
    }
    for (const x of rep.outOfRange) {
      this.log.error(`${kind} is not within the configured range; please recreate service`, { value: x.split(" ")[0], service: x.split(" ")[1], range });
    }
    for (const x of rep.leaksReleased) this.log.warn(`${kind} leaked; releasing`, { value: x });
  }
}
