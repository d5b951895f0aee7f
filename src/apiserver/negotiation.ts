/**
 * Content negotiation as kube-apiserver does it: JSON (and YAML) objects,
 * `as=Table` server-side printing, `as=APIGroupDiscoveryList` aggregated
 * discovery, `as=PartialObjectMetadata(List)`. Protobuf is not spoken for
 * objects; a client that accepts only protobuf gets 406.
 */
import { notAcceptable } from "../machinery/status-error.js";

export interface MediaType {
  readonly type: string;
  readonly params: Readonly<Record<string, string>>;
}

/** Parses an Accept header into media types in preference order. */
export function parseAccept(header: string | undefined): MediaType[] {
  if (!header) return [{ type: "*/*", params: {} }];
  const out: { m: MediaType; q: number; i: number }[] = [];
  header.split(",").forEach((part, i) => {
    const [type, ...ps] = part.split(";").map((s) => s.trim());
    if (!type) return;
    const params: Record<string, string> = {};
    let q = 1;
    for (const p of ps) {
      const eq = p.indexOf("=");
      if (eq < 0) continue;
      const k = p.slice(0, eq).trim().toLowerCase();
      const v = p.slice(eq + 1).trim().replace(/^"|"$/g, "");
      if (k === "q") q = Number(v) || 0;
      else params[k] = v;
    }
    out.push({ m: { type: type.toLowerCase(), params }, q, i });
  });
  return out.sort((a, b) => b.q - a.q || a.i - b.i).map((x) => x.m);
}

/** What the response body should be. */
export type Rendering =
  | { readonly kind: "json" }
  | { readonly kind: "yaml" }
  | { readonly kind: "table"; readonly version: "v1" | "v1beta1"; readonly includeObject?: string }
  | { readonly kind: "partial-metadata"; readonly version: "v1" | "v1beta1" }
  | { readonly kind: "discovery"; readonly version: "v2" | "v2beta1" };

const JSONISH = new Set(["application/json", "application/*", "*/*"]);

export interface NegotiateOptions {
  /** Whether this endpoint can answer with a Table (resource GET/LIST/WATCH). */
  readonly table?: boolean;
  /** Whether this endpoint serves aggregated discovery (/api, /apis). */
  readonly discovery?: boolean;
}

/** Picks the first acceptable rendering; 406 when none is. */
export function negotiate(accept: string | undefined, opts: NegotiateOptions = {}): Rendering {
  for (const m of parseAccept(accept)) {
    const as = m.params.as;
    const g = m.params.g;
    const v = m.params.v;
    if (m.type === "application/json" && as) {
      if (as === "Table" && opts.table && g === "meta.k8s.io" && (v === "v1" || v === "v1beta1")) {
        return { kind: "table", version: v };
      }
      if ((as === "PartialObjectMetadata" || as === "PartialObjectMetadataList") && g === "meta.k8s.io" && (v === "v1" || v === "v1beta1")) {
        return { kind: "partial-metadata", version: v };
      }
      if (as === "APIGroupDiscoveryList" && opts.discovery && g === "apidiscovery.k8s.io" && (v === "v2" || v === "v2beta1")) {
        return { kind: "discovery", version: v };
      }
      continue;
    }
    if (JSONISH.has(m.type)) return { kind: "json" };
    if (m.type === "application/yaml") return { kind: "yaml" };
  }
  throw notAcceptable(
    "only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io",
  );
}
