/**
 * Server-side Table printing of NodeMetrics and PodMetrics, as
 * metrics-server's ConvertToTable: columns Name, then the usage names in
 * sorted order (cpu, memory, as quantities), then Window; a pod's row sums
 * its containers. `kubectl get nodes.metrics.k8s.io` shows this.
 */
import { goDuration } from "../../kubelet/go-format.js";
import { type IncludeObject, rowObject, type Table, type TableColumnDefinition, type TableGroupVersion, type TableRow } from "../printers/table.js";
import { bytesQuantity, nanoCoresQuantity } from "./quantity.js";

/** One row's figures and the object it prints. */
export interface MetricsRow {
  readonly object: { readonly metadata: { readonly name: string } };
  readonly cpuNanoCores: number;
  readonly memoryBytes: number;
  readonly windowMs: number;
}

const COLUMNS: TableColumnDefinition[] = [
  { name: "Name", type: "string", format: "name", description: "Name of the resource", priority: 0 },
  { name: "cpu", type: "string", format: "quantity", description: "", priority: 0 },
  { name: "memory", type: "string", format: "quantity", description: "", priority: 0 },
  { name: "Window", type: "string", format: "duration", description: "", priority: 0 },
];

/** The Table of `rows` (no column definitions when empty, as upstream prints none without a first row). */
export function metricsTable(rows: readonly MetricsRow[], include: IncludeObject, groupVersion: TableGroupVersion): Table {
  const out: TableRow[] = rows.map((r) => {
    const object = rowObject(r.object, include, groupVersion);
    return {
      cells: [r.object.metadata.name, nanoCoresQuantity(r.cpuNanoCores), bytesQuantity(r.memoryBytes), goDuration(r.windowMs)],
      ...(object !== undefined ? { object } : {}),
    };
  });
  return { kind: "Table", apiVersion: groupVersion, metadata: {}, columnDefinitions: rows.length > 0 ? COLUMNS.map((c) => ({ ...c })) : [], rows: out };
}
