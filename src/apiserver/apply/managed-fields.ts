/**
 * `metadata.managedFields` as upstream's fieldmanager encodes it: one entry
 * per manager identity (manager, operation, subresource, and for `Update`
 * entries the apiVersion), `fieldsType: FieldsV1`, `time` in RFC 3339
 * seconds, entries sorted Apply before Update, then by time, manager,
 * apiVersion and subresource.
 */
import type { ManagedFieldsEntry } from "kubernetes-types/meta/v1.js";
import { badRequest } from "../../machinery/status-error.js";
import { FieldSet } from "./field-set.js";

/** The operation that produced an entry. */
export type Operation = "Apply" | "Update";

/** One decoded managedFields entry. */
export interface ManagerEntry {
  readonly manager: string;
  readonly operation: Operation;
  readonly apiVersion: string;
  /** RFC 3339, seconds precision, UTC. */
  readonly time?: string;
  readonly subresource?: string;
  readonly set: FieldSet;
}

/** Upstream's manager identifier: the entry without fields and time (and without apiVersion for appliers), as JSON. */
export function managerId(e: Pick<ManagerEntry, "manager" | "operation" | "apiVersion" | "subresource">): string {
  const id: Record<string, string> = { manager: e.manager, operation: e.operation };
  if (e.operation === "Update" && e.apiVersion) id.apiVersion = e.apiVersion;
  if (e.subresource) id.subresource = e.subresource;
  return JSON.stringify(id);
}

/** Formats a time as upstream serialises metav1.Time. */
export function formatTime(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

/**
 * Decodes `metadata.managedFields`; answers 400 for entries upstream rejects
 * (unknown operation, fieldsType other than FieldsV1, malformed fieldsV1).
 */
export function decodeManagedFields(entries: readonly ManagedFieldsEntry[] | undefined): ManagerEntry[] {
  const out: ManagerEntry[] = [];
  for (const e of entries ?? []) {
    if (e.operation !== "Apply" && e.operation !== "Update") throw badRequest(`invalid managedFields entry: operation must be Apply or Update, got ${JSON.stringify(e.operation ?? "")}`);
    if (e.fieldsType !== undefined && e.fieldsType !== "FieldsV1") throw badRequest(`invalid managedFields entry: fieldsType must be FieldsV1, got ${JSON.stringify(e.fieldsType)}`);
    let set: FieldSet;
    try {
      set = e.fieldsV1 === undefined ? FieldSet.empty() : FieldSet.fromFieldsV1(e.fieldsV1);
    } catch (err) {
      throw badRequest(`invalid managedFields entry for manager ${JSON.stringify(e.manager ?? "")}: ${(err as Error).message}`);
    }
    out.push({
      manager: e.manager ?? "",
      operation: e.operation,
      apiVersion: e.apiVersion ?? "",
      ...(e.time ? { time: e.time } : {}),
      ...(e.subresource ? { subresource: e.subresource } : {}),
      set,
    });
  }
  return out;
}

function seconds(t: string | undefined): number {
  return t ? Math.floor(Date.parse(t) / 1000) : 0;
}

/** Encodes entries (dropping empty ones) in upstream's order and field order. */
export function encodeManagedFields(entries: readonly ManagerEntry[]): ManagedFieldsEntry[] {
  const sorted = entries
    .filter((e) => !e.set.isEmpty())
    .sort((p, q) => {
      if (p.operation !== q.operation) return p.operation < q.operation ? -1 : 1;
      if (seconds(p.time) !== seconds(q.time)) return seconds(p.time) - seconds(q.time);
      if (p.manager !== q.manager) return p.manager < q.manager ? -1 : 1;
      if (p.apiVersion !== q.apiVersion) return p.apiVersion < q.apiVersion ? -1 : 1;
      return (p.subresource ?? "") < (q.subresource ?? "") ? -1 : (p.subresource ?? "") > (q.subresource ?? "") ? 1 : 0;
    });
  return sorted.map((e) => ({
    manager: e.manager,
    operation: e.operation,
    apiVersion: e.apiVersion,
    ...(e.time ? { time: e.time } : {}),
    fieldsType: "FieldsV1",
    fieldsV1: e.set.toFieldsV1(),
    ...(e.subresource ? { subresource: e.subresource } : {}),
  }));
}
