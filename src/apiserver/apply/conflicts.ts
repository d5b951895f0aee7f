/**
 * Apply conflicts as upstream reports them
 * (k8s.io/apimachinery/pkg/util/managedfields/internal/conflict.go): HTTP
 * 409, reason Conflict, one `FieldManagerConflict` cause per field.
 */
import { StatusError } from "../../machinery/status-error.js";
import { comparePaths, type FieldPath, pathToString } from "./field-set.js";

/** One field another manager owns with a different value. */
export interface Conflict {
  /** The manager identifier, as {@link managerId} builds it. */
  readonly managerId: string;
  readonly path: FieldPath;
}

/** Upstream's `printManager`: `"name"`, plus ` using <apiVersion>` for Update managers. */
export function printManager(managerId: string): string {
  let e: { manager?: string; operation?: string; apiVersion?: string; subresource?: string };
  try {
    e = JSON.parse(managerId) as typeof e;
  } catch {
    return JSON.stringify(managerId);
  }
  let s = JSON.stringify(e.manager ?? "");
  if (e.subresource) s = `${s} with subresource ${JSON.stringify(e.subresource)}`;
  if (e.operation === "Update") return `${s} using ${e.apiVersion ?? ""}`;
  return s;
}

function message(conflicts: readonly Conflict[]): string {
  if (conflicts.length === 1) {
    const c = conflicts[0]!;
    return `Apply failed with 1 conflict: conflict with ${printManager(c.managerId)}: ${pathToString(c.path)}`;
  }
  const byManager = new Map<string, FieldPath[]>();
  for (const c of conflicts) byManager.set(c.managerId, [...(byManager.get(c.managerId) ?? []), c.path]);
  const lines: string[] = [];
  for (const id of [...byManager.keys()].sort()) {
    lines.push(`conflicts with ${printManager(id)}:`);
    for (const p of byManager.get(id)!) lines.push(`- ${pathToString(p)}`);
  }
  return `Apply failed with ${conflicts.length} conflicts: ${lines.join("\n")}`;
}

/** Sorts conflicts by manager identifier, then path. */
export function sortConflicts(conflicts: readonly Conflict[]): Conflict[] {
  return [...conflicts].sort((a, b) => (a.managerId !== b.managerId ? (a.managerId < b.managerId ? -1 : 1) : comparePaths(a.path, b.path)));
}

/** The 409 upstream answers for apply conflicts. */
export function applyConflictError(conflicts: readonly Conflict[]): StatusError {
  const sorted = sortConflicts(conflicts);
  return new StatusError({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: message(sorted),
    reason: "Conflict",
    details: {
      causes: sorted.map((c) => ({ reason: "FieldManagerConflict", message: `conflict with ${printManager(c.managerId)}`, field: pathToString(c.path) })),
    },
    code: 409,
  });
}
