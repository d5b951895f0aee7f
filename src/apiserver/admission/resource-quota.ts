/**
 * ResourceQuota admission, as upstream's plugin/pkg/admission/resourcequota:
 * a create (or an update that can raise usage) is checked against every
 * ResourceQuota of its namespace that limits something it uses and whose
 * scopes match it, using the limits the quota controller confirmed
 * (`status.hard`) and its `status.used`. Within limits, the usage is charged
 * to `status.used` at once with a compare-and-swap on the quota's
 * resourceVersion, so concurrent creates can never together exceed a quota:
 * a conflict re-reads the quota and checks again, and this server also runs
 * one check per namespace at a time so they rarely conflict. The quota
 * controller later recomputes usage from what really exists (objects whose
 * create failed after admission, deletions).
 *
 * Refusals are 403s with upstream's messages:
 * `exceeded quota: NAME, requested: cpu=2, used: cpu=1, limited: cpu=2`,
 * `failed quota: NAME: must specify limits.cpu for: app`,
 * `status unknown for quota: NAME, resource: pods`.
 */
import { type Clock, systemClock } from "../../machinery/clock.js";
import { invalid, isConflict } from "../../machinery/status-error.js";
import type { KList, KObject } from "../registry/types.js";
import type { AdmissionAttributes, AdmissionPlugin } from "./admission.js";
import { LiveLookup } from "./resource-quota-live-lookup.js";
import { validateResourceQuotaSpec } from "./resource-quota-validation.js";
import { admissionForbidden } from "./priority.js";
import { add, cmp, type Qty, sub, ZERO } from "./resource-quota-quantity.js";
import {
  evaluatorFor,
  handlesOperation,
  hardOf,
  podConstraintError,
  prettyPrint,
  quotaMatches,
  toResourceList,
  tracks,
  type Usage,
  usageOf,
  usedOf,
} from "./resource-quota-usage.js";

/** What the plugin reads and writes ResourceQuotas through (the registry's ObjectStore). */
export interface QuotaAccess {
  list(ns: string | undefined): Promise<KList>;
  get(ns: string | undefined, name: string): Promise<KObject>;
  update(ns: string | undefined, name: string, body: KObject, opts: { subresource?: string }): Promise<{ object: KObject }>;
}

export interface ResourceQuotaOptions {
  readonly quotas: QuotaAccess;
  /**
   * A cache of the quotas (a lister), to skip namespaces without any cheaply
   * (see {@link LiveLookup}); where there are some, the live ones are read.
   */
  readonly cached?: { list(ns: string | undefined): Promise<KList> };
  readonly clock?: Clock;
  /** Compare-and-swap attempts per quota before giving up with a 409 (upstream retries 3 times too). */
  readonly maxAttempts?: number;
}

type Obj = Record<string, unknown>;

const isResourceQuotas = (a: AdmissionAttributes) => a.resource.group === "" && a.resource.plural === "resourcequotas";

function removeZeros(u: Usage): Usage {
  return new Map([...u].filter(([, q]) => q.mantissa !== 0n));
}

/** Upstream's SubtractWithNonNegativeResult. */
function subtractNonNegative(a: Usage, b: Usage): Usage {
  const out: Usage = new Map();
  for (const [k, q] of a) {
    const d = b.has(k) ? sub(q, b.get(k)!) : q;
    out.set(k, d.mantissa < 0n ? ZERO : d);
  }
  return out;
}

function mask(u: Map<string, Qty>, names: Iterable<string>): Map<string, Qty> {
  const out = new Map<string, Qty>();
  for (const n of names) if (u.has(n)) out.set(n, u.get(n)!);
  return out;
}

function usedMap(quota: KObject): Map<string, Qty> {
  return usedOf(quota as Obj);
}

/** A serial section per key: the next caller starts once the previous one finished. */
class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

export function resourceQuota(opts: ResourceQuotaOptions): AdmissionPlugin {
  const clock = opts.clock ?? systemClock;
  const maxAttempts = opts.maxAttempts ?? 3;
  const mutex = new KeyedMutex();
  const lookup = opts.cached ? new LiveLookup(opts.cached, opts.quotas, clock) : undefined;

  /** The quotas that apply to this object and what they must be charged, or a refusal. */
  function evaluate(a: AdmissionAttributes, quotas: readonly KObject[]): { quota: KObject; requested: Map<string, Qty> }[] {
    const { group, plural } = a.resource;
    const o = a.object as Obj;
    const interesting: KObject[] = [];
    for (const q of quotas) {
      const hard = hardOf(q as Obj, "status");
      if (!quotaMatches(q as Obj, hard.keys(), group, plural, o)) continue;
      const restricted = [...hard.keys()].filter((n) => tracks(group, plural, n));
      if (evaluatorFor(group, plural) === "pods") {
        const why = podConstraintError(restricted, o);
        if (why) throw admissionForbidden(a, `failed quota: ${q.metadata?.name}: ${why}`);
      }
      const used = usedMap(q);
      const unknown = restricted.filter((n) => !used.has(n));
      if (unknown.length > 0) throw admissionForbidden(a, `status unknown for quota: ${q.metadata?.name}, resource: ${restricted.sort().join(",")}`);
      interesting.push(q);
    }
    if (interesting.length === 0) return [];
    const now = clock.now();
    let delta = removeZeros(usageOf(group, plural, o, now));
    if (a.operation === "UPDATE" && a.oldObject) delta = removeZeros(subtractNonNegative(delta, usageOf(group, plural, a.oldObject as Obj, now)));
    if (delta.size === 0) return [];
    const out: { quota: KObject; requested: Map<string, Qty> }[] = [];
    for (const q of interesting) {
      const hard = hardOf(q as Obj, "status");
      const requested = mask(delta, hard.keys());
      if (requested.size === 0) continue;
      check(a, q, requested);
      out.push({ quota: q, requested });
    }
    return out;
  }

  /** Throws upstream's "exceeded quota" when `requested` on top of the quota's used passes its hard limits. */
  function check(a: AdmissionAttributes, q: KObject, requested: Map<string, Qty>): void {
    const hard = hardOf(q as Obj, "status");
    const used = usedMap(q);
    const exceeded: string[] = [];
    for (const [k, r] of requested) {
      const next = add(used.get(k) ?? ZERO, r);
      if (cmp(next, hard.get(k)!) > 0) exceeded.push(k);
    }
    if (exceeded.length === 0) return;
    throw admissionForbidden(
      a,
      `exceeded quota: ${q.metadata?.name}, requested: ${prettyPrint(mask(requested, exceeded))}, used: ${prettyPrint(mask(used, exceeded))}, limited: ${prettyPrint(mask(hard, exceeded))}`,
    );
  }

  /** Adds `requested` to the quota's status.used with compare-and-swap, re-checking on conflict. */
  async function charge(a: AdmissionAttributes, quota: KObject, requested: Map<string, Qty>): Promise<void> {
    let q = quota;
    for (let attempt = 1; ; attempt++) {
      const used = usedMap(q);
      for (const [k, r] of requested) used.set(k, add(used.get(k) ?? ZERO, r));
      const status = { ...((q.status ?? {}) as Obj), used: { ...(((q.status ?? {}) as Obj).used as Obj), ...toResourceList(mask(used, requested.keys())) } };
      try {
        await opts.quotas.update(a.namespace, q.metadata?.name ?? "", { ...q, status }, { subresource: "status" });
        return;
      } catch (err) {
        if (!isConflict(err) || attempt >= maxAttempts) throw err;
        q = await opts.quotas.get(a.namespace, q.metadata?.name ?? "");
        // The limit or the usage moved meanwhile: the request must still fit.
        const hard = hardOf(q as Obj, "status");
        check(a, q, mask(requested, hard.keys()));
      }
    }
  }

  return {
    name: "ResourceQuota",
    admit(a) {
      // Upstream's PrepareForCreate: a new quota starts with no status, so only the controller can confirm its limits.
      if (isResourceQuotas(a) && a.operation === "CREATE" && a.subresource === "" && a.object) delete a.object.status;
    },
    async validate(a) {
      if (isResourceQuotas(a) && a.subresource === "" && a.object && (a.operation === "CREATE" || a.operation === "UPDATE")) {
        // skiff has no ResourceQuota strategy: the registry's validation runs here (a 422, as upstream's).
        const errs = validateResourceQuotaSpec(a.object.spec);
        if (errs.length > 0) throw invalid("ResourceQuota", "", a.object.metadata?.name ?? a.name, errs);
      }
      if (a.subresource !== "" || !a.resource.namespaced || !a.object) return;
      if (!handlesOperation(a.resource.group, a.resource.plural, a.operation)) return;
      if (lookup && (await lookup.list(a.namespace)).length === 0) return;
      await mutex.run(a.namespace, async () => {
        // Live reads from here: the charge below compares-and-swaps on exactly what was checked.
        const quotas = (await opts.quotas.list(a.namespace)).items;
        if (quotas.length === 0) return;
        const charges = evaluate(a, quotas);
        if (a.dryRun) return;
        for (const c of charges) await charge(a, c.quota, c.requested);
      });
    },
  };
}
