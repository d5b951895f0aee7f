/**
 * Shapes of the meta.k8s.io Table (staging/src/k8s.io/apimachinery/pkg/apis/meta/v1
 * types.go: Table, TableColumnDefinition, TableRow, TableRowCondition) and the
 * printer contract every resource family implements.
 */

/** One column of a Table. Every field is always serialized, as upstream (no omitempty). */
export interface TableColumnDefinition {
  readonly name: string;
  /** OpenAPI type: "string", "integer", "number", "boolean" or "date". */
  readonly type: string;
  /** OpenAPI format modifier; "name" marks the primary key column, otherwise "". */
  readonly format: string;
  readonly description: string;
  /** 0 = always shown; 1 = shown by `kubectl get -o wide` only (kubectl filters client-side). */
  readonly priority: number;
}

/** A row condition; upstream uses it to mark completed pods (`Completed=True`). */
export interface TableRowCondition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
}

/** One row. `object` is absent for includeObject=None. */
export interface TableRow {
  readonly cells: unknown[];
  readonly conditions?: TableRowCondition[];
  readonly object?: unknown;
}

/** ListMeta as a Table carries it. */
export interface TableListMeta {
  readonly resourceVersion?: string;
  readonly continue?: string;
  readonly remainingItemCount?: number;
}

export type TableGroupVersion = "meta.k8s.io/v1" | "meta.k8s.io/v1beta1";

export interface Table {
  readonly kind: "Table";
  readonly apiVersion: TableGroupVersion;
  readonly metadata: TableListMeta;
  readonly columnDefinitions: TableColumnDefinition[];
  readonly rows: TableRow[];
}

/** The `includeObject` query parameter of TableOptions. */
export type IncludeObject = "None" | "Metadata" | "Object";

/** What a printer needs besides the object: the clock ("now" for AGE cells). */
export interface PrintContext {
  readonly now: Date;
}

/** Cells (and optional row conditions) of one object's row. */
export interface PrintedRow {
  readonly cells: unknown[];
  readonly conditions?: TableRowCondition[];
}

/**
 * A table handler as upstream's printers.AddHandlers registers one: the column
 * definitions and a function producing the row for one object. Rows are always
 * produced "wide" (all columns), as the API server does (GenerateOptions{Wide: true}).
 */
export interface Printer {
  readonly columns: readonly TableColumnDefinition[];
  print(obj: object, ctx: PrintContext): PrintedRow;
}
