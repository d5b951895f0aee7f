/**
 * The resource-quota controller (`resourcequota`), as upstream's
 * pkg/controller/resourcequota: keeps every ResourceQuota's `status.hard`
 * equal to its `spec.hard` and `status.used` equal to what the namespace
 * really uses, for the resources some evaluator tracks (pods' compute and
 * counts, services, claims, and `count/<resource>.<group>` of any kind).
 *
 * A quota is synced when it is made or its spec changes, when something it
 * counts goes away or stops using compute (replenishment: a pod deleted or
 * finished, a service or claim deleted or changed), and every
 * `resourceQuotaSyncPeriodMs` (upstream's --resource-quota-sync-period, 5 m).
 * Creates are charged by the ResourceQuota admission plugin as they happen.
 * The status is written with the resourceVersion the controller read, so a
 * charge admission made meanwhile is never overwritten: the write conflicts
 * and the quota is synced again.
 */
import type { ResourceQuota } from "kubernetes-types/core/v1.js";
import { BUILTIN_RESOURCES } from "../../api/resources.js";
import { discoverPreferredResources } from "../../client/discovery.js";
import type { SharedInformer } from "../../client/informer.js";
import { type KubeObject, type ResourceDescriptor, ResourceClient } from "../../client/resource-client.js";
import { CONFIGMAPS, PERSISTENT_VOLUME_CLAIMS, PODS, REPLICATION_CONTROLLERS, RESOURCE_QUOTAS, SECRETS, SERVICES } from "../../client/resources.js";
import type { RestClient } from "../../client/rest-client.js";
import { sleepOn, systemTimers, type Timers } from "../../client/timers.js";
import { WorkQueue } from "../../client/work-queue.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { isConflict, isNotFound } from "../../machinery/status-error.js";
import { add, cmp, type Qty, ZERO } from "../../apiserver/admission/resource-quota-quantity.js";
import {
  evaluatorFor,
  hardOf,
  podUsesCompute,
  scopeRequirements,
  podMatchesScope,
  toResourceList,
  tracks,
  usageOf,
  usedOf,
} from "../../apiserver/admission/resource-quota-usage.js";
import type { Controller, ControllerContext } from "../manager.js";
import { errorMessage } from "../common/errors.js";
import { processNextWorkItem, runController } from "../common/workers.js";

/** Upstream's --resource-quota-sync-period default. */
export const DEFAULT_RESOURCE_QUOTA_SYNC_PERIOD_MS = 5 * 60_000;

type Obj = Record<string, unknown>;

export interface ResourceQuotaControllerOptions {
  readonly rest: RestClient;
  readonly quotas: SharedInformer<ResourceQuota>;
  /** Informers of the kinds most quotas count; other kinds are listed from the API when a quota names them. */
  readonly informers: ReadonlyMap<string, SharedInformer<KubeObject>>;
  readonly syncPeriodMs?: number;
  readonly workers?: number;
  readonly timers?: Timers;
  readonly logger?: Logger;
}

/** "group/plural" of a resource, the informer map's key. */
const gr = (group: string, plural: string) => `${group}/${plural}`;

/** The (group, plural) a quota resource name is about, when it names one kind (count/* and the legacy names). */
function kindsOf(name: string): { group: string; plural: string }[] {
  if (name.startsWith("count/")) {
    const rest = name.slice("count/".length);
    const dot = rest.indexOf(".");
    return [dot < 0 ? { group: "", plural: rest } : { group: rest.slice(dot + 1), plural: rest.slice(0, dot) }];
  }
  const out: { group: string; plural: string }[] = [];
  for (const plural of ["pods", "services", "persistentvolumeclaims", "configmaps", "secrets", "replicationcontrollers", "resourcequotas"]) {
    if (tracks("", plural, name)) out.push({ group: "", plural });
  }
  return out;
}

export class ResourceQuotaController implements Controller {
  readonly queue: WorkQueue<string>;
  private readonly log: Logger;
  private readonly timers: Timers;

  constructor(private readonly o: ResourceQuotaControllerOptions) {
    this.log = o.logger ?? silentLogger;
    this.timers = o.timers ?? systemTimers;
    this.queue = new WorkQueue<string>({ timers: this.timers });
    const key = (q: ResourceQuota) => `${q.metadata?.namespace}/${q.metadata?.name}`;
    o.quotas.addEventHandler({
      onAdd: (q) => this.queue.add(key(q)),
      onUpdate: (old, q) => {
        // Our own status writes come back here: only a spec change, or a status out of step with it, needs a sync.
        if (JSON.stringify(old.spec) !== JSON.stringify(q.spec) || JSON.stringify(q.spec?.hard ?? {}) !== JSON.stringify(q.status?.hard ?? {}) || !q.status?.used) {
          this.queue.add(key(q));
        }
      },
    });
    for (const [k, inf] of o.informers) {
      const plural = k.slice(k.indexOf("/") + 1);
      inf.addEventHandler({
        onUpdate: (old, obj) => {
          if (this.releases(plural, old as Obj, obj as Obj)) this.enqueueNamespace(obj.metadata?.namespace ?? "");
        },
        onDelete: (obj) => this.enqueueNamespace(obj.metadata?.namespace ?? ""),
      });
    }
  }

  /** Upstream's replenishment check: an update that can lower usage (a pod finishing or being deleted, a service or claim changing). */
  private releases(plural: string, old: Obj, obj: Obj): boolean {
    if (plural === "pods") {
      const now = this.timers.now();
      return podUsesCompute(old, now) !== podUsesCompute(obj, now) || (!(old.metadata as Obj)?.deletionTimestamp && !!(obj.metadata as Obj)?.deletionTimestamp);
    }
    if (plural === "services" || plural === "persistentvolumeclaims") return JSON.stringify(old.spec) !== JSON.stringify(obj.spec);
    return false;
  }

  private enqueueNamespace(ns: string): void {
    for (const q of this.o.quotas.byNamespace(ns)) this.queue.add(`${ns}/${q.metadata?.name}`);
  }

  async run(signal: AbortSignal): Promise<void> {
    const period = this.o.syncPeriodMs ?? DEFAULT_RESOURCE_QUOTA_SYNC_PERIOD_MS;
    await runController(signal, {
      name: "resourcequota",
      log: this.log,
      queues: [this.queue],
      informers: [this.o.quotas, ...this.o.informers.values()],
      workers: this.o.workers ?? 5,
      processNextWorkItem: () =>
        processNextWorkItem(this.queue, (key) => this.sync(key), (key, err) => {
          this.log.error("sync failed, will retry", { controller: "resourcequota", quota: key, err: errorMessage(err) });
          this.queue.addRateLimited(key);
        }),
      afterSync: () => {
        // A full resync catches usage no event announced (kinds without informers, writes that failed after admission).
        const stop = new AbortController();
        const loop = (async () => {
          for (;;) {
            try {
              await sleepOn(this.timers, period, stop.signal);
            } catch {
              return;
            }
            for (const q of this.o.quotas.list()) this.queue.add(`${q.metadata?.namespace}/${q.metadata?.name}`);
          }
        })();
        signal.addEventListener("abort", () => stop.abort(), { once: true });
        return { loops: [loop], cleanup: () => stop.abort() };
      },
    });
  }

  /** The objects of one kind in a namespace: from an informer when there is one, else from the API. */
  private async objectsOf(group: string, plural: string, ns: string, discovered: () => Promise<ResourceDescriptor[]>): Promise<Obj[] | undefined> {
    const inf = this.o.informers.get(gr(group, plural));
    if (inf) return inf.byNamespace(ns) as unknown as Obj[];
    const builtin = BUILTIN_RESOURCES.find((r) => r.group === group && r.plural === plural);
    const d: ResourceDescriptor | undefined = builtin
      ? { group, version: builtin.version, resource: plural, kind: builtin.kind, namespaced: builtin.namespaced }
      : (await discovered()).find((r) => r.group === group && r.resource === plural);
    // A kind the server does not serve: nothing can use it (upstream has no evaluator for it either).
    if (!d?.namespaced) return undefined;
    const list = await new ResourceClient<KubeObject>(this.o.rest, d).namespace(ns).listAll();
    return list.items as unknown as Obj[];
  }

  /** Upstream's syncResourceQuota: status.hard from spec.hard, status.used recomputed, written only when changed. */
  async sync(key: string): Promise<void> {
    const q = this.o.quotas.get(key);
    if (!q) return;
    const ns = q.metadata?.namespace ?? "";
    const hard = hardOf(q as Obj, "spec");
    const scopes = scopeRequirements(q as Obj);
    let discovery: Promise<ResourceDescriptor[]> | undefined;
    const discovered = () => (discovery ??= discoverPreferredResources(this.o.rest));
    const now = this.timers.now();
    const used = new Map<string, Qty>();
    const kinds = new Map<string, { group: string; plural: string }>();
    for (const name of hard.keys()) for (const k of kindsOf(name)) kinds.set(gr(k.group, k.plural), k);
    for (const { group, plural } of kinds.values()) {
      const matched = [...hard.keys()].filter((n) => tracks(group, plural, n));
      const objects = await this.objectsOf(group, plural, ns, discovered);
      if (!objects) continue;
      for (const n of matched) used.set(n, used.get(n) ?? ZERO);
      // Scopes select pods only; with any scope no other kind is counted (MatchesNoScopeFunc).
      if (scopes.length > 0 && evaluatorFor(group, plural) !== "pods") continue;
      for (const o of objects) {
        if (scopes.length > 0 && !scopes.every((s) => podMatchesScope(s, o))) continue;
        for (const [n, v] of usageOf(group, plural, o, now)) if (matched.includes(n)) used.set(n, add(used.get(n)!, v));
      }
    }
    // Resource names no evaluator tracks keep what was observed before, masked to hard, as upstream.
    const previous = usedOf(q as Obj);
    for (const [n, v] of previous) if (hard.has(n) && !used.has(n)) used.set(n, v);
    const status = { hard: toResourceList(hard), used: toResourceList(used) };
    const sameHard = sameList(hardOf(q as Obj, "status"), hard) && !!q.status?.hard;
    const sameUsed = sameList(previous, used) && !!q.status?.used;
    if (sameHard && sameUsed) return;
    try {
      await new ResourceClient<ResourceQuota>(this.o.rest, RESOURCE_QUOTAS).namespace(ns).updateStatus({ ...q, status } as ResourceQuota);
      this.log.debug("updated quota status", { quota: key, used: JSON.stringify(status.used) });
    } catch (err) {
      if (isNotFound(err)) return;
      // Admission charged it (or the spec changed) since the cache copy: sync again from the newer one.
      if (isConflict(err)) throw new Error(`quota ${key} changed while syncing; retrying`);
      throw err;
    }
  }
}

function sameList(a: Map<string, Qty>, b: Map<string, Qty>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (!b.has(k) || cmp(v, b.get(k)!) !== 0) return false;
  return true;
}

/** The `resourcequota` controller of a controller manager. */
export function newResourceQuotaController(ctx: ControllerContext): ResourceQuotaController {
  const informers = new Map<string, SharedInformer<KubeObject>>();
  for (const d of [PODS, SERVICES, PERSISTENT_VOLUME_CLAIMS, CONFIGMAPS, SECRETS, REPLICATION_CONTROLLERS]) {
    informers.set(gr(d.group, d.resource), ctx.informers.informerFor<KubeObject>(d));
  }
  informers.set(gr("", "resourcequotas"), ctx.informers.informerFor<KubeObject>(RESOURCE_QUOTAS));
  return new ResourceQuotaController({
    rest: ctx.rest,
    quotas: ctx.informers.informerFor<ResourceQuota>(RESOURCE_QUOTAS),
    informers,
    syncPeriodMs: ctx.settings.resourceQuotaSyncPeriodMs,
    logger: ctx.logger.with({ controller: "resourcequota" }),
  });
}
