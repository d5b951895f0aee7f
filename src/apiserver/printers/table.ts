/**
 * Server-side Table output (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`):
 * the columns and cells upstream kube-apiserver's printers produce for each
 * resource, so `kubectl get` looks as it does on a real v1.30 cluster.
 *
 * Mirrors pkg/printers/tablegenerator.go (GenerateTable, always Wide, as
 * pkg/printers/storage asks) and the asTable step of the API server's
 * response writer (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/response.go),
 * which replaces each row's object per `includeObject`.
 */
import { printerFor } from "./registry.js";
import type {
  IncludeObject,
  Table,
  TableColumnDefinition,
  TableGroupVersion,
  TableListMeta,
  TableRow,
} from "./types.js";

export type {
  IncludeObject,
  PrintContext,
  PrintedRow,
  Printer,
  Table,
  TableColumnDefinition,
  TableGroupVersion,
  TableListMeta,
  TableRow,
  TableRowCondition,
} from "./types.js";
export { hasPrinter, printedResources } from "./registry.js";

export interface PrintTableOptions {
  /** The clock for AGE and other "since" cells. */
  readonly now: Date;
  /** What each row's `object` holds: nothing, a PartialObjectMetadata, or the object. */
  readonly includeObject: IncludeObject;
  /**
   * The list's metadata, for a list (or watch) response. Omit it when printing
   * the object of a single GET: the table then carries that object's
   * resourceVersion, as upstream's CommonAccessor fallback does.
   */
  readonly listMeta?: TableListMeta;
  /** TableOptions.noHeaders: omit the column definitions (kubectl asks for this on watch events after the first). */
  readonly noHeaders?: boolean;
  /** The Table's group version as negotiated; meta.k8s.io/v1 unless the client asked for v1beta1. */
  readonly groupVersion?: TableGroupVersion;
}

/** The column definitions a resource's table has (all priorities). */
export function columnDefinitions(resource: string): TableColumnDefinition[] {
  return [...printerFor(resource).columns];
}

interface ObjectWithMeta {
  metadata?: { resourceVersion?: string } & Record<string, unknown>;
}

/** The row's object per includeObject (asTable in the API server's response writer). */
export function rowObject(obj: object, include: IncludeObject, groupVersion: TableGroupVersion): unknown {
  switch (include) {
    case "Object":
      return obj;
    case "Metadata":
      return { kind: "PartialObjectMetadata", apiVersion: groupVersion, metadata: (obj as ObjectWithMeta).metadata ?? {} };
    case "None":
      return undefined;
  }
}

/** A Table's metadata: the list's, or for a single object its resourceVersion, as upstream. */
export function tableMetadata(
  objects: readonly object[],
  listMeta: { resourceVersion?: string; continue?: string; remainingItemCount?: number } | undefined,
): TableListMeta {
  if (listMeta) {
    return {
      ...(listMeta.resourceVersion ? { resourceVersion: listMeta.resourceVersion } : {}),
      ...(listMeta.continue ? { continue: listMeta.continue } : {}),
      ...(listMeta.remainingItemCount !== undefined ? { remainingItemCount: listMeta.remainingItemCount } : {}),
    };
  }
  const rv = objects.length === 1 ? (objects[0] as ObjectWithMeta).metadata?.resourceVersion : undefined;
  return rv ? { resourceVersion: rv } : {};
}

/**
 * Prints objects of one resource as a meta.k8s.io Table.
 *
 * @param resource the plural resource, qualified by group unless core:
 *   "pods", "deployments.apps", "ingresses.networking.k8s.io". Resources
 *   without a printer get upstream's default table (Name, Created At).
 * @param objects the objects, in the version the request was for (events.k8s.io
 *   and autoscaling/v1 objects are mapped as upstream's internal types would be).
 */
export function printTable(resource: string, objects: readonly object[], opts: PrintTableOptions): Table {
  const printer = printerFor(resource);
  const groupVersion = opts.groupVersion ?? "meta.k8s.io/v1";
  const ctx = { now: opts.now };
  const rows: TableRow[] = objects.map((obj) => {
    const printed = printer.print(obj, ctx);
    const object = rowObject(obj, opts.includeObject, groupVersion);
    return {
      cells: printed.cells,
      ...(printed.conditions ? { conditions: printed.conditions } : {}),
      ...(object !== undefined ? { object } : {}),
    };
  });
  const metadata = tableMetadata(objects, opts.listMeta);
  return {
    kind: "Table",
    apiVersion: groupVersion,
    metadata,
    columnDefinitions: opts.noHeaders ? [] : printer.columns.map((c) => ({ ...c })),
    rows,
  };
}
