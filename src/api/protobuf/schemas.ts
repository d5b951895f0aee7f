/**
 * The message schemas of Kubernetes' protobuf encoding (generated from the
 * descriptors kubectl embeds: scripts/gen-proto-schemas.ts), indexed for
 * decoding, and the lookup from an envelope's apiVersion + kind to a message.
 */
import schemasJson from "./schemas.generated.json" with { type: "json" };

/** One field of a message. `type` is a scalar name (`string`, `int64`, ...) or a message's full name. */
export type FieldSchema = {
  readonly no: number;
  readonly name: string;
  readonly type: string;
  readonly repeated: boolean;
  /** The key's scalar type of a proto map (then `type` is the value type). */
  readonly mapKey?: string;
  /** A Go struct embedded with `json:",inline"`: its fields belong to the parent object. */
  readonly inline: boolean;
  /** No `omitempty` upstream: Go's JSON writes the zero value. */
  readonly required: boolean;
};

export type MessageSchema = { readonly name: string; readonly fields: ReadonlyMap<number, FieldSchema> };

type RawField = [number, string, string, string?, string?];
const RAW = (schemasJson as unknown as { messages: Record<string, RawField[]> }).messages;

/** The kubectl version the schemas were extracted from. */
export const SCHEMAS_SOURCE: string = (schemasJson as unknown as { _source: string })._source;

const cache = new Map<string, MessageSchema>();

/** The schema of a message by full name (`k8s.io.api.core.v1.Pod`), or undefined. */
export function messageSchema(name: string): MessageSchema | undefined {
  const hit = cache.get(name);
  if (hit) return hit;
  const raw = RAW[name];
  if (!raw) return undefined;
  const fields = new Map<number, FieldSchema>();
  for (const [no, fieldName, type, flags = "", mapKey] of raw) {
    fields.set(no, {
      no,
      name: fieldName,
      type,
      repeated: flags.includes("r"),
      ...(flags.includes("m") && mapKey ? { mapKey } : {}),
      inline: flags.includes("i"),
      required: flags.includes("q"),
    });
  }
  const schema = { name, fields };
  cache.set(name, schema);
  return schema;
}

/**
 * API groups whose proto package directory is not the group's first label.
 * Everything else follows the rule: `rbac.authorization.k8s.io` → `rbac`,
 * `networking.k8s.io` → `networking`, `apps` → `apps`.
 */
const GROUP_DIRS: Readonly<Record<string, string>> = {
  "": "core",
  "internal.apiserver.k8s.io": "apiserverinternal",
  "meta.k8s.io": "meta",
};

/** Package → its messages, built once from the schema names. */
let packages: Map<string, Set<string>> | undefined;

function packageIndex(): Map<string, Set<string>> {
  if (packages) return packages;
  packages = new Map();
  for (const full of Object.keys(RAW)) {
    const dot = full.lastIndexOf(".");
    const pkg = full.slice(0, dot);
    let set = packages.get(pkg);
    if (!set) packages.set(pkg, (set = new Set()));
    set.add(full.slice(dot + 1));
  }
  return packages;
}

/**
 * The message full name for an apiVersion + kind (`apps/v1` + `Deployment`
 * → `k8s.io.api.apps.v1.Deployment`), or undefined when no such kind is
 * known. meta/v1 kinds (DeleteOptions, ...) are registered in every group
 * version, as upstream's schemes do.
 */
export function messageForKind(apiVersion: string, kind: string): string | undefined {
  const slash = apiVersion.indexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  if (!version || !kind) return undefined;
  const dir = GROUP_DIRS[group] ?? group.split(".")[0]!;
  for (const [pkg, names] of packageIndex()) {
    if (!names.has(kind) || !pkg.endsWith(`.${version}`)) continue;
    const parts = pkg.split(".");
    const pkgDir = parts[parts.length - 2]!;
    if (pkgDir === dir && (pkg.startsWith("k8s.io.api.") || dir === "meta")) return `${pkg}.${kind}`;
  }
  // meta.k8s.io/v1 types (DeleteOptions, ...) decode in any group version.
  const meta = `k8s.io.apimachinery.pkg.apis.meta.${version}`;
  if (packageIndex().get(meta)?.has(kind) && ["DeleteOptions", "CreateOptions", "UpdateOptions", "PatchOptions", "ListOptions", "GetOptions", "Status"].includes(kind)) {
    return `${meta}.${kind}`;
  }
  return undefined;
}
