/**
 * Server-side field validation (`fieldValidation=Strict|Warn|Ignore`): finds
 * fields a body sets that the kind's schema does not have, as upstream's
 * strict decoding does, so kubectl's default `--validate=strict` works.
 */
import definitions from "../api/openapi/definitions.generated.json" with { type: "json" };
import { badRequest } from "../machinery/status-error.js";
import type { Definitions, SchemaNode } from "./patch/strategic-merge-patch.js";

const defs = definitions as unknown as Definitions;

export type FieldValidation = "Strict" | "Warn" | "Ignore";

/** Reads the `fieldValidation` query parameter (upstream's default is Warn). */
export function fieldValidationOf(url: URL): FieldValidation {
  const v = url.searchParams.get("fieldValidation");
  if (v === null || v === "") return "Warn";
  if (v === "Strict" || v === "Warn" || v === "Ignore") return v;
  throw badRequest(`fieldValidation: Unsupported value: "${v}": supported values: "Ignore", "Strict", "Warn"`);
}

function resolve(node: SchemaNode | undefined): (SchemaNode & { "x-kubernetes-preserve-unknown-fields"?: boolean }) | undefined {
  let n = node;
  for (let i = 0; n?.$ref && i < 20; i++) n = defs[n.$ref.replace("#/definitions/", "")];
  return n;
}

function walk(value: unknown, node: SchemaNode | undefined, path: string, out: string[], prune: boolean): void {
  const n = resolve(node);
  if (!n || n["x-kubernetes-preserve-unknown-fields"]) return;
  if (Array.isArray(value)) {
    if (n.items) for (const [i, v] of value.entries()) walk(v, n.items, `${path}[${i}]`, out, prune);
    return;
  }
  if (value === null || typeof value !== "object") return;
  const obj = value as Record<string, unknown>;
  if (n.properties) {
    for (const [k, v] of Object.entries(obj)) {
      const p = n.properties[k];
      const here = path ? `${path}.${k}` : k;
      if (!p) {
        out.push(here);
        if (prune) delete obj[k];
        continue;
      }
      walk(v, p, here, out, prune);
    }
    return;
  }
  if (n.additionalProperties && typeof n.additionalProperties === "object") {
    for (const [k, v] of Object.entries(obj)) walk(v, n.additionalProperties, path ? `${path}.${k}` : k, out, prune);
  }
}

/**
 * Drops fields `definition` does not declare from `obj` in place, as
 * upstream's decoding into typed objects does; returns their paths.
 */
export function pruneUnknownFields(obj: unknown, definition: string): string[] {
  if (!defs[definition]) return [];
  const out: string[] = [];
  walk(obj, { $ref: `#/definitions/${definition}` }, "", out, true);
  return out;
}

/** Applies a field-validation mode to a list of unknown field paths. */
export function decideUnknownFields(unknown: readonly string[], kind: string, version: string, mode: FieldValidation): string[] {
  if (mode === "Ignore" || unknown.length === 0) return [];
  if (mode === "Strict") {
    const list = unknown.map((f) => `unknown field "${f}"`);
    throw badRequest(`${kind} in version "${version}" cannot be handled as a ${kind}: strict decoding error: ${list.join(", ")}`);
  }
  return unknown.map((f) => `unknown field "${f}"`);
}
