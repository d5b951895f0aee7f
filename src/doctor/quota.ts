/**
 * Pods that are never created because a ResourceQuota is full: the
 * owner's FailedCreate events ("exceeded quota: …") and the quota's
 * used/hard numbers.
 */
import type { Event, ResourceQuota } from "kubernetes-types/core/v1.js";
import { describeEvent, eventTime } from "./events.js";
import { type Finding, objectRef } from "./types.js";

/** FailedCreate events older than this are taken as resolved. */
const RECENT_MS = 15 * 60_000;

/** Resources of a quota whose use has reached the hard limit. */
export function fullResources(q: ResourceQuota): string[] {
  const hard = q.status?.hard ?? q.spec?.hard ?? {};
  const used = q.status?.used ?? {};
  return Object.keys(hard).filter((k) => used[k] !== undefined && String(used[k]) === String(hard[k]));
}

/** One finding per owner whose recent FailedCreate says a quota is exceeded. */
export function diagnoseQuota(events: readonly Event[], quotas: readonly ResourceQuota[], namespaces: ReadonlySet<string> | undefined, now: Date): Finding[] {
  const latest = new Map<string, Event>();
  for (const e of events) {
    if (e.reason !== "FailedCreate" || !/exceeded quota/i.test(e.message ?? "")) continue;
    const o = e.involvedObject;
    if (namespaces && !namespaces.has(o.namespace ?? "")) continue;
    if (now.getTime() - eventTime(e) > RECENT_MS) continue;
    const key = `${o.kind}/${o.namespace}/${o.name}`;
    const prev = latest.get(key);
    if (!prev || eventTime(e) > eventTime(prev)) latest.set(key, e);
  }
  const out: Finding[] = [];
  for (const e of latest.values()) {
    const o = e.involvedObject;
    const msg = e.message ?? "";
    const quotaName = /exceeded quota: ([^,\s]+)/.exec(msg)?.[1];
    const q = quotas.find((x) => x.metadata?.namespace === o.namespace && x.metadata?.name === quotaName);
    const detail = /requested: ([^,]+(?:,[^,:]+=[^,]+)*), used: ([^,]+(?:,[^,:]+=[^,]+)*), limited: (.+)$/.exec(msg);
    const evidence = [describeEvent(e)];
    if (q) {
      const hard = q.status?.hard ?? q.spec?.hard ?? {};
      const used = q.status?.used ?? {};
      evidence.push(`quota ${quotaName}: ${Object.keys(hard).map((k) => `${k} ${used[k] ?? "0"}/${hard[k]}`).join(", ")}`);
    }
    out.push({
      object: objectRef(o.kind ?? "Object", o.name, o.namespace),
      severity: "error",
      cause: `Its pods are not created: ResourceQuota "${quotaName ?? "?"}" in namespace ${o.namespace} is exceeded${detail ? ` (requested ${detail[1]}, already used ${detail[2]}, limit ${detail[3]})` : ""}.`,
      fix: `Lower the pods' requests/limits, delete pods that count against the quota, or raise the quota (kubectl edit resourcequota ${quotaName ?? "NAME"} -n ${o.namespace}).`,
      evidence,
    });
  }
  return out;
}
