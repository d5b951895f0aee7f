/**
 * Generates src/api/protobuf/schemas.generated.json: the message schemas the
 * API server needs to decode Kubernetes protobuf request bodies
 * (`application/vnd.kubernetes.protobuf`, what client-go 1.32+ sends).
 *
 * Source: a kubectl binary. It embeds every k8s.io/api, apimachinery and
 * apiextensions `generated.proto` as a gzipped FileDescriptorProto (the
 * gogo-protobuf registration); this script finds those blobs, parses them
 * with protobufjs' descriptor support and keeps only what decoding needs.
 * Only messages the served API can reach are kept: those with a definition
 * in src/api/openapi/definitions.generated.json (the kinds skiff serves and
 * their parts), runtime.Unknown (the envelope) and what they reference.
 * Two facts come from those OpenAPI definitions too, because the
 * descriptors do not carry Go struct tags:
 * - "inline": a message field whose Go struct is embedded with
 *   `json:",inline"` (Probe.handler, Volume.volumeSource, ...): its JSON name
 *   is absent from the parent's OpenAPI properties while its own fields are
 *   present, so its fields are spliced into the parent object;
 * - "required": the field has no `omitempty` (OpenAPI `required`), so Go's
 *   JSON emits its zero value.
 *
 * Run: `npm run gen:proto [path/to/kubectl]` (default: the newest
 * `kubectl.1.NN` beside the `kubectl` on PATH, else `kubectl` itself). The
 * server never reads kubectl at run time; the output is checked in.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { inflateRawSync } from "node:zlib";
import descriptor, { type IDescriptorProto, type IFieldDescriptorProto, type IFileDescriptorProto } from "protobufjs/ext/descriptor.js";

// A CommonJS module: its exports arrive as the default import.
const { FileDescriptorProto } = descriptor;

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(ROOT, "src/api/protobuf/schemas.generated.json");
const OPENAPI = join(ROOT, "src/api/openapi/definitions.generated.json");

/** FieldDescriptorProto.Type numbers → the scalar names the decoder uses. */
const SCALARS: Record<number, string> = {
  1: "double",
  2: "float",
  3: "int64",
  4: "uint64",
  5: "int32",
  6: "fixed64",
  7: "fixed32",
  8: "bool",
  9: "string",
  12: "bytes",
  13: "uint32",
  15: "sfixed32",
  16: "sfixed64",
  17: "sint32",
  18: "sint64",
};
const TYPE_MESSAGE = 11;
const TYPE_ENUM = 14;
const LABEL_REPEATED = 3;

function defaultKubectl(): string {
  const pathDirs = (process.env.PATH ?? "").split(":");
  for (const d of pathDirs) {
    const k = join(d, "kubectl");
    if (!existsSync(k)) continue;
    const dir = dirname(realpathSync(k));
    const versioned = readdirSync(dir)
      .map((f) => /^kubectl\.1\.(\d+)$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .sort((a, b) => Number(b[1]) - Number(a[1]));
    return versioned.length > 0 ? join(dir, versioned[0]![0]) : realpathSync(k);
  }
  throw new Error("no kubectl on PATH; pass the binary's path");
}

/** Every embedded gzipped FileDescriptorProto of a `generated.proto`. */
function extractDescriptors(binary: Buffer): IFileDescriptorProto[] {
  const magic = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00]);
  const out = new Map<string, IFileDescriptorProto>();
  for (let at = binary.indexOf(magic); at >= 0; at = binary.indexOf(magic, at + 1)) {
    let raw: Buffer;
    try {
      // The blob's end is unknown, and blobs may sit back to back (gunzip would
      // concatenate them): inflate the raw deflate stream after the 10-byte
      // gzip header, which stops at its own end.
      raw = inflateRawSync(binary.subarray(at + 10, at + 400_000), { finishFlush: 2 /* Z_SYNC_FLUSH */ });
    } catch {
      continue;
    }
    const nameAt = raw.indexOf("generated.proto");
    if (nameAt < 0 || nameAt > 100) continue;
    let file: IFileDescriptorProto;
    try {
      file = FileDescriptorProto.decode(raw) as unknown as IFileDescriptorProto;
    } catch {
      continue;
    }
    if (file.name?.endsWith("generated.proto") && file.package) out.set(file.name, file);
  }
  return [...out.values()].sort((a, b) => (a.name! < b.name! ? -1 : 1));
}

type OpenApiDef = { properties?: Record<string, unknown>; required?: string[] };

/** The OpenAPI definition name of a proto message (`k8s.io.api.core.v1.Pod` → `io.k8s.api.core.v1.Pod`). */
function openApiName(full: string): string {
  return full.startsWith("k8s.io.") ? `io.k8s.${full.slice("k8s.io.".length)}`.replace("apiextensions-apiserver", "apiextensions-apiserver") : full;
}

/** JSON names that differ from the proto field name (apiextensions JSONSchemaProps). */
function jsonName(message: string, field: string): string {
  if (message.endsWith(".JSONSchemaProps")) {
    if (field === "ref") return "$ref";
    if (field === "schema") return "$schema";
    if (field.startsWith("xKubernetes")) return `x-kubernetes-${field.slice("xKubernetes".length).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).slice(1)}`;
  }
  return field;
}

/**
 * Kinds served without an OpenAPI definition: the create-only reviews of
 * src/apiserver/auth/reviews.ts. Their fields get no "required" flags (no
 * definition says which), which only matters for their status, which the
 * server computes anyway.
 */
const REVIEW_KINDS = [
  "k8s.io.api.authentication.v1.SelfSubjectReview",
  "k8s.io.api.authentication.v1.TokenReview",
  "k8s.io.api.authorization.v1.LocalSubjectAccessReview",
  "k8s.io.api.authorization.v1.SelfSubjectAccessReview",
  "k8s.io.api.authorization.v1.SelfSubjectRulesReview",
  "k8s.io.api.authorization.v1.SubjectAccessReview",
];

type FieldOut = [number, string, string, string?, string?];

function main() {
  const kubectl = process.argv[2] ?? defaultKubectl();
  const versionJson = JSON.parse(execFileSync(kubectl, ["version", "--client", "-o", "json"], { encoding: "utf8" })) as {
    clientVersion: { gitVersion: string };
  };
  const files = extractDescriptors(readFileSync(kubectl));
  if (files.length === 0) throw new Error(`${kubectl}: no embedded generated.proto descriptors found`);
  const openapi = JSON.parse(readFileSync(OPENAPI, "utf8")) as Record<string, OpenApiDef>;

  // First pass: every message (nested ones too), so map entries and inline checks can look types up.
  const messages = new Map<string, IDescriptorProto>();
  const walk = (prefix: string, list: IDescriptorProto[] | null | undefined) => {
    for (const m of list ?? []) {
      const full = `${prefix}.${m.name}`;
      messages.set(full, m);
      walk(full, m.nestedType);
    }
  };
  for (const f of files) walk(f.package!, f.messageType);

  const typeOf = (f: IFieldDescriptorProto): string => {
    if (f.type === TYPE_MESSAGE) return f.typeName!.replace(/^\./, "");
    if (f.type === TYPE_ENUM) return "int32";
    const s = SCALARS[f.type ?? 0];
    if (!s) throw new Error(`unsupported field type ${f.type} (${f.name})`);
    return s;
  };

  const out: Record<string, FieldOut[]> = {};
  for (const [full, m] of [...messages].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (m.options?.mapEntry) continue;
    const def = openapi[openApiName(full)];
    const fields: FieldOut[] = [];
    for (const f of m.field ?? []) {
      const name = jsonName(full, f.name!);
      let type = typeOf(f);
      let flags = "";
      let mapKey: string | undefined;
      const entry = f.type === TYPE_MESSAGE ? messages.get(type) : undefined;
      if (entry?.options?.mapEntry) {
        const [k, v] = entry.field!;
        flags += "m";
        mapKey = typeOf(k!);
        type = typeOf(v!);
      } else if (f.label === LABEL_REPEATED) flags += "r";
      if (def?.properties && flags === "" && f.type === TYPE_MESSAGE && !(name in def.properties) && entry) {
        // Most rather than all: the OpenAPI data may predate a field kubectl's protos already have.
        const innerNames = (entry.field ?? []).map((x) => jsonName(type, x.name!));
        const present = innerNames.filter((n) => n in def.properties!).length;
        if (innerNames.length > 0 && present * 5 >= innerNames.length * 4) flags += "i";
      }
      if (def?.required?.includes(name)) flags += "q";
      fields.push(mapKey ? [f.number!, name, type, flags, mapKey] : flags ? [f.number!, name, type, flags] : [f.number!, name, type]);
    }
    out[full] = fields;
  }

  // Only what the served API can reach: messages with an OpenAPI definition (the kinds skiff serves and
  // their parts), the envelope, and everything those reference.
  const keep = new Set<string>(["k8s.io.apimachinery.pkg.runtime.Unknown", ...REVIEW_KINDS]);
  for (const name of Object.keys(out)) if (openapi[openApiName(name)]) keep.add(name);
  for (const pending = [...keep]; pending.length > 0; ) {
    for (const [, , type] of out[pending.pop()!] ?? []) {
      if (type.includes(".") && !keep.has(type)) {
        keep.add(type);
        pending.push(type);
      }
    }
  }
  for (const name of Object.keys(out)) if (!keep.has(name)) delete out[name];

  const doc = {
    _comment: "Generated by scripts/gen-proto-schemas.ts from the descriptors embedded in kubectl; do not edit.",
    _source: `kubectl ${versionJson.clientVersion.gitVersion}`,
    _format:
      "message full name -> [number, json name, type (scalar name or message full name), flags, map key type]; flags: r repeated, m map (type is the value type, the 5th element the key type), i Go-inline embedded struct, q required (no omitempty)",
    messages: out,
  };
  // One message per line: diffs stay readable, the file stays compact.
  const lines = Object.entries(out).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  const text = `{\n  "_comment": ${JSON.stringify(doc._comment)},\n  "_source": ${JSON.stringify(doc._source)},\n  "_format": ${JSON.stringify(doc._format)},\n  "messages": {\n${lines.map((l) => `  ${l}`).join(",\n")}\n  }\n}\n`;
  writeFileSync(OUT, text);
  console.log(`${OUT}: ${Object.keys(out).length} messages from ${files.length} descriptors (${doc._source})`);
}

main();
