/**
 * The structural view server-side apply needs of an OpenAPI v2 schema, as
 * k8s.io/kube-openapi/pkg/schemaconv derives it for structured-merge-diff:
 * structs (named properties), granular or atomic maps, lists that are atomic,
 * sets (`x-kubernetes-list-type: set`) or maps keyed by
 * `x-kubernetes-list-map-keys`, and scalars. A list without a list type but
 * with `x-kubernetes-patch-strategy: merge` is a map keyed by its patch merge
 * key (or a set without one); any other untyped list is atomic. Values with
 * no schema are "deduced" as upstream does: objects are granular maps, lists
 * are atomic.
 */
import type { Definitions, SchemaNode } from "../patch/strategic-merge-patch.js";

/** The OpenAPI extensions apply reads on top of {@link SchemaNode}. */
interface ApplySchemaNode extends SchemaNode {
  readonly "x-kubernetes-list-type"?: string;
  readonly "x-kubernetes-list-map-keys"?: readonly string[];
  readonly "x-kubernetes-map-type"?: string;
  readonly "x-kubernetes-preserve-unknown-fields"?: boolean;
}

/** What a schema node is, for apply. `node` is opaque and fed back to {@link TypeResolver.child}. */
export type TypeInfo =
  | { readonly kind: "scalar" }
  | { readonly kind: "struct"; readonly atomic: boolean; readonly node: SchemaNode }
  | { readonly kind: "map"; readonly atomic: boolean; readonly node: SchemaNode | undefined }
  | { readonly kind: "list"; readonly listType: "atomic" | "set" | "map"; readonly keys: readonly string[]; readonly node: SchemaNode | undefined };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Resolves schema nodes of one set of OpenAPI definitions into {@link TypeInfo}. */
export class TypeResolver {
  constructor(private readonly defs: Definitions) {}

  /** The root node of a definition such as `io.k8s.api.apps.v1.Deployment`. */
  root(definition: string): SchemaNode {
    return { $ref: `#/definitions/${definition}` };
  }

  private resolve(node: SchemaNode | undefined): ApplySchemaNode | undefined {
    let n: SchemaNode | undefined = node;
    for (let i = 0; n?.$ref && i < 32; i++) n = this.defs[n.$ref.replace("#/definitions/", "")];
    return n as ApplySchemaNode | undefined;
  }

  /** Classifies `value` as described by `node` (undefined: no schema, deduce from the value). */
  info(node: SchemaNode | undefined, value: unknown): TypeInfo {
    const own = node as ApplySchemaNode | undefined;
    const r = this.resolve(node);
    if (Array.isArray(value) || r?.type === "array") {
      const ext = own?.["x-kubernetes-list-type"] !== undefined || own?.["x-kubernetes-patch-strategy"] !== undefined ? own : r;
      const lt = ext?.["x-kubernetes-list-type"];
      if (lt === "map") return { kind: "list", listType: "map", keys: ext?.["x-kubernetes-list-map-keys"] ?? [], node: r?.items };
      if (lt === "set") return { kind: "list", listType: "set", keys: [], node: r?.items };
      if (lt === undefined && (ext?.["x-kubernetes-patch-strategy"] ?? "").split(",").includes("merge")) {
        const key = ext?.["x-kubernetes-patch-merge-key"];
        return key ? { kind: "list", listType: "map", keys: [key], node: r?.items } : { kind: "list", listType: "set", keys: [], node: r?.items };
      }
      return { kind: "list", listType: "atomic", keys: [], node: r?.items };
    }
    // The value drives the walk: null and scalars are leaves whatever the schema says.
    if (!isObj(value)) return { kind: "scalar" };
    const atomic = (own?.["x-kubernetes-map-type"] ?? r?.["x-kubernetes-map-type"]) === "atomic";
    if (r?.properties && Object.keys(r.properties).length > 0) return { kind: "struct", atomic, node: r };
    if (r && isObj(r.additionalProperties)) return { kind: "map", atomic, node: r.additionalProperties as SchemaNode };
    // `type: object` with neither properties nor a value schema (RawExtension, JSON, preserve-unknown-fields): deduced.
    return { kind: "map", atomic, node: undefined };
  }

  /** The schema of field `key` of a struct or map described by `info`; `named` says whether it is a struct field. */
  child(info: TypeInfo, key: string): { node: SchemaNode | undefined; named: boolean } {
    if (info.kind === "struct") {
      const p = info.node.properties?.[key];
      if (p) return { node: p, named: true };
      const ap = (info.node as ApplySchemaNode).additionalProperties;
      return { node: isObj(ap) ? (ap as SchemaNode) : undefined, named: false };
    }
    if (info.kind === "map") return { node: info.node, named: false };
    return { node: undefined, named: false };
  }
}
