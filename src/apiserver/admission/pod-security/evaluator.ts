/**
 * Evaluates a pod against a level and version, as upstream's checkRegistry:
 * baseline checks run for baseline; restricted runs the restricted checks
 * plus the baseline ones no restricted check overrides; a version newer than
 * any check means the newest checks; results keep upstream's order
 * (baseline IDs sorted, then restricted IDs sorted) so messages are stable.
 */
import type { LevelVersion } from "./api.js";
import { CHECKS, type Check, type CheckFn, type CheckResult, type PodView } from "./checks.js";

/** What a pod violates: upstream's AggregateCheckResult. */
export interface AggregateResult {
  readonly allowed: boolean;
  readonly reasons: readonly string[];
  readonly details: readonly string[];
}

/** `reason (detail), reason (detail)`, as upstream's ForbiddenDetail. */
export function forbiddenDetail(r: AggregateResult): string {
  return r.reasons.map((reason, i) => (r.details[i] ? `${reason} (${r.details[i]})` : reason)).join(", ");
}

/** `reason, reason`, as upstream's ForbiddenReason. */
export const forbiddenReason = (r: AggregateResult): string => r.reasons.join(", ");

export class Evaluator {
  private readonly ordered: readonly Check[];
  private readonly maxMinor: number;
  private readonly cache = new Map<string, readonly CheckFn[]>();

  constructor(checks: readonly Check[] = CHECKS) {
    const byId = (a: Check, b: Check) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    this.ordered = [...checks.filter((c) => c.level === "baseline").sort(byId), ...checks.filter((c) => c.level === "restricted").sort(byId)];
    this.maxMinor = Math.max(...checks.flatMap((c) => c.versions.map((v) => v.minimumMinor)));
  }

  /** The checks of `lv`, in upstream's order. */
  private checksFor(lv: LevelVersion): readonly CheckFn[] {
    if (lv.level === "privileged") return [];
    const minor = lv.version.latest ? this.maxMinor : Math.min(lv.version.minor, this.maxMinor);
    const key = `${lv.level}/${minor}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const at = (c: Check) => [...c.versions].reverse().find((v) => v.minimumMinor <= minor);
    const overridden = new Set<string>();
    if (lv.level === "restricted") {
      for (const c of this.ordered) if (c.level === "restricted") for (const o of at(c)?.overrides ?? []) overridden.add(o);
    }
    const fns: CheckFn[] = [];
    for (const c of this.ordered) {
      if (c.level === "restricted" && lv.level !== "restricted") continue;
      if (overridden.has(c.id)) continue;
      const v = at(c);
      if (v) fns.push(v.check);
    }
    this.cache.set(key, fns);
    return fns;
  }

  evaluate(lv: LevelVersion, pod: PodView): AggregateResult {
    const reasons: string[] = [];
    const details: string[] = [];
    for (const check of this.checksFor(lv)) {
      const r: CheckResult = check(pod);
      if (r.allowed) continue;
      reasons.push(r.reason ?? "");
      details.push(r.detail ?? "");
    }
    return { allowed: reasons.length === 0, reasons, details };
  }
}
