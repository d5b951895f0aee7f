/**
 * Server-side tables for custom resources, as upstream's CR table convertor
 * (apiextensions-apiserver pkg/registry/customresource/tableconvertor) builds
 * them: a Name column, then the version's additionalPrinterColumns, each cell
 * evaluated with a client-go JSONPath subset. When a version declares no
 * columns, the API server serves a single default "Age" column
 * (.metadata.creationTimestamp, serveDefaultColumnsIfEmpty); when it declares
 * any, no Age column is added — CRDs that want one list it themselves.
 *
 * JSONPath subset: `.a.b`, `['a.b']`, `[0]`, `[-1]`, `[*]`, `.*`, and filters
 * `[?(@.x.y == "v")]`, `!=`, `<`, `>`, `<=`, `>=` and existence `[?(@.x)]`
 * with string, number, boolean literals. Recursive descent (`..`), ranges and
 * unions are not supported: such a column's cells are null.
 */
import { DOC } from "../apiserver/printers/descriptions.js";
import { humanDuration } from "../apiserver/printers/format.js";
import { rowObject, tableMetadata } from "../apiserver/printers/table.js";
import type {
  IncludeObject,
  Table,
  TableColumnDefinition,
  TableGroupVersion,
  TableListMeta,
  TableRow,
} from "../apiserver/printers/types.js";

/** What a printer column needs of `spec.versions[*].additionalPrinterColumns[*]`. */
export interface PrinterColumn {
  readonly name: string;
  readonly type: string;
  readonly format?: string;
  readonly description?: string;
  readonly priority?: number;
  readonly jsonPath: string;
}

export interface CRDTableOptions {
  /** The clock for date cells. */
  readonly now: Date;
  /** What each row's `object` holds: nothing, a PartialObjectMetadata, or the object. */
  readonly includeObject: IncludeObject;
  /** List metadata for a list/watch response; omit for a single GET (the object's resourceVersion is used). */
  readonly listMeta?: TableListMeta;
  /** TableOptions.noHeaders. */
  readonly noHeaders?: boolean;
  readonly groupVersion?: TableGroupVersion;
}

/** The column served when a version declares none (serveDefaultColumnsIfEmpty). */
export const DEFAULT_AGE_COLUMN: PrinterColumn = {
  name: "Age",
  type: "date",
  description: DOC.creationTimestamp,
  jsonPath: ".metadata.creationTimestamp",
};

/** The columns a version serves: its own, or the default Age column when it has none. */
export function servedColumns(version: { readonly additionalPrinterColumns?: readonly PrinterColumn[] | undefined }): readonly PrinterColumn[] {
  const cols = version.additionalPrinterColumns ?? [];
  return cols.length > 0 ? cols : [DEFAULT_AGE_COLUMN];
}

/** The Table column definitions for a version (Name first). */
export function crdColumnDefinitions(version: { readonly additionalPrinterColumns?: readonly PrinterColumn[] | undefined }): TableColumnDefinition[] {
  return [
    { name: "Name", type: "string", format: "name", description: DOC.name, priority: 0 },
    ...servedColumns(version).map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? "",
      description: c.description || `Custom resource definition column (in JSONPath format): ${c.jsonPath}`,
      priority: c.priority ?? 0,
    })),
  ];
}

// ---- JSONPath subset -------------------------------------------------------

type Literal = string | number | boolean | null;

type Step =
  | { kind: "field"; name: string }
  | { kind: "wildcard" }
  | { kind: "index"; index: number }
  | { kind: "filter"; path: string[]; op?: string; value?: Literal };

/** A parsed JSONPath; `undefined` from `parseJSONPath` means unsupported syntax. */
export type JSONPath = readonly Step[];

const FIELD_CHARS = /^[^.[\]]+/;

function parseLiteral(s: string): Literal | undefined {
  const t = s.trim();
  if ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'"))) return t.length >= 2 ? t.slice(1, -1) : undefined;
  if (t === "true") return true;
  if (t === "false") return false;
  if (t === "null") return null;
  if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(t)) return Number(t);
  return undefined;
}

function parseFilter(body: string): Step | undefined {
  const m = /^\s*@((?:\.[^.\s=!<>]+)*)\s*(?:(==|!=|<=|>=|<|>)\s*(.+?))?\s*$/.exec(body);
  if (!m) return undefined;
  const path = m[1] ? m[1].slice(1).split(".") : [];
  if (!m[2]) return { kind: "filter", path };
  const value = parseLiteral(m[3]!);
  if (value === undefined) return undefined;
  return { kind: "filter", path, op: m[2], value };
}

/** Parses `.spec.replicas`, `{.status.conditions[?(@.type=="Ready")].status}` and the like. */
export function parseJSONPath(expr: string): JSONPath | undefined {
  let s = expr.trim();
  if (s.startsWith("{") && s.endsWith("}")) s = s.slice(1, -1).trim();
  if (s.startsWith("$")) s = s.slice(1);
  const steps: Step[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === ".") {
      if (s[i + 1] === ".") return undefined; // recursive descent
      i++;
      if (i >= s.length) break; // "." alone: the object itself
      if (s[i] === "*") {
        steps.push({ kind: "wildcard" });
        i++;
        continue;
      }
      const m = FIELD_CHARS.exec(s.slice(i));
      if (!m) return undefined;
      steps.push({ kind: "field", name: m[0] });
      i += m[0].length;
    } else if (c === "[") {
      const end = s.startsWith("[?(", i) ? s.indexOf(")]", i) : s.indexOf("]", i);
      if (end < 0) return undefined;
      if (s.startsWith("[?(", i)) {
        const step = parseFilter(s.slice(i + 3, end));
        if (!step) return undefined;
        steps.push(step);
        i = end + 2;
        continue;
      }
      const body = s.slice(i + 1, end).trim();
      i = end + 1;
      if (body === "*") steps.push({ kind: "wildcard" });
      else if (/^-?\d+$/.test(body)) steps.push({ kind: "index", index: Number(body) });
      else {
        const lit = parseLiteral(body);
        if (typeof lit !== "string") return undefined;
        steps.push({ kind: "field", name: lit });
      }
    } else {
      return undefined;
    }
  }
  return steps;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function lookup(v: unknown, path: readonly string[]): { found: boolean; value?: unknown } {
  let cur = v;
  for (const k of path) {
    if (!isObj(cur) || !(k in cur)) return { found: false };
    cur = cur[k];
  }
  return { found: true, value: cur };
}

function compare(a: unknown, op: string, b: Literal): boolean {
  switch (op) {
    case "==":
      return a === b;
    case "!=":
      return a !== b;
    default:
      if (typeof a !== "number" || typeof b !== "number") return false;
      return op === "<" ? a < b : op === ">" ? a > b : op === "<=" ? a <= b : a >= b;
  }
}

/** All values the path selects (missing keys select nothing, as AllowMissingKeys(true)). */
export function evaluateJSONPath(path: JSONPath, data: unknown): unknown[] {
  let cur: unknown[] = [data];
  for (const step of path) {
    const next: unknown[] = [];
    for (const v of cur) {
      switch (step.kind) {
        case "field":
          if (isObj(v) && step.name in v) next.push(v[step.name]);
          break;
        case "wildcard":
          if (Array.isArray(v)) next.push(...v);
          else if (isObj(v)) for (const k of Object.keys(v).sort()) next.push(v[k]);
          break;
        case "index":
          if (Array.isArray(v)) {
            const idx = step.index < 0 ? v.length + step.index : step.index;
            if (idx >= 0 && idx < v.length) next.push(v[idx]);
          }
          break;
        case "filter": {
          const items = Array.isArray(v) ? v : isObj(v) ? Object.values(v) : [];
          for (const item of items) {
            const got = lookup(item, step.path);
            if (!got.found) continue;
            if (step.op === undefined || compare(got.value, step.op, step.value ?? null)) next.push(item);
          }
          break;
        }
      }
    }
    cur = next;
  }
  return cur;
}

/** How client-go's jsonpath prints one value: strings raw, maps and slices as JSON, others with %v. */
function printValue(v: unknown): string {
  if (typeof v === "string") return v;
  if (v === null || v === undefined) return "<nil>";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** cellForJSONValue, plus the string case (PrintResults). */
function cell(type: string, value: unknown, now: Date): unknown {
  if (type === "string") return printValue(value);
  if (value === null || value === undefined) return null;
  switch (type) {
    case "integer":
      return typeof value === "number" ? Math.trunc(value) : null;
    case "number":
      return typeof value === "number" ? value : null;
    case "boolean":
      return typeof value === "boolean" ? value : null;
    case "date": {
      if (typeof value !== "string") return null;
      const t = Date.parse(value);
      if (Number.isNaN(t)) return "<invalid>";
      if (t === Date.parse("0001-01-01T00:00:00Z")) return "<unknown>";
      return humanDuration(now.getTime() - t);
    }
    default:
      return null;
  }
}

interface WithMeta {
  metadata?: { name?: string; resourceVersion?: string } & Obj;
}

/**
 * Prints custom resources of one version as a meta.k8s.io Table: Name, then
 * the served printer columns (see `servedColumns`).
 */
export function crdTable(
  crdVersion: { readonly additionalPrinterColumns?: readonly PrinterColumn[] | undefined },
  objects: readonly object[],
  opts: CRDTableOptions,
): Table {
  const groupVersion = opts.groupVersion ?? "meta.k8s.io/v1";
  const columns = servedColumns(crdVersion);
  const paths = columns.map((c) => parseJSONPath(c.jsonPath));
  const rows: TableRow[] = objects.map((obj) => {
    const cells: unknown[] = [(obj as WithMeta).metadata?.name ?? ""];
    columns.forEach((c, i) => {
      const path = paths[i];
      const results = path ? evaluateJSONPath(path, obj) : [];
      cells.push(results.length === 0 ? null : cell(c.type, results[0], opts.now));
    });
    const object = rowObject(obj, opts.includeObject, groupVersion);
    return { cells, ...(object !== undefined ? { object } : {}) };
  });
  const metadata = tableMetadata(objects, opts.listMeta);
  return {
    kind: "Table",
    apiVersion: groupVersion,
    metadata,
    columnDefinitions: opts.noHeaders ? [] : crdColumnDefinitions(crdVersion),
    rows,
  };
}
