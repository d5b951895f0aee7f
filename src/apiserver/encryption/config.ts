/**
 * EncryptionConfiguration (apiserver.config.k8s.io/v1), as kube-apiserver's
 * `--encryption-provider-config`: which resources are encrypted at rest and
 * with which providers and keys. skiff supports the aescbc, aesgcm and
 * identity providers; kms and secretbox are refused by name.
 *
 * The server keeps its configuration in `<data-dir>/tls/encryption-config.yaml`
 * (mode 0600), created at first start with one random 32-byte aescbc key for
 * `secrets`, followed by identity so a store written before encryption still
 * reads (as k3s does).
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parse, stringify } from "yaml";
import { aescbcTransformer, aesgcmTransformer, identityTransformer, type PrefixTransformer, PrefixTransformers } from "./transformers.js";

export const ENCRYPTION_CONFIG_API_VERSION = "apiserver.config.k8s.io/v1";
export const ENCRYPTION_CONFIG_KIND = "EncryptionConfiguration";
/** The name of the key made at first start (k3s' name). */
export const DEFAULT_KEY_NAME = "aescbckey";

export interface EncryptionKey {
  name: string;
  /** Base64 of the key bytes. */
  secret: string;
}

/** One provider entry: exactly one field set. */
export interface ProviderConfiguration {
  aescbc?: { keys: EncryptionKey[] };
  aesgcm?: { keys: EncryptionKey[] };
  identity?: Record<string, never>;
  secretbox?: unknown;
  kms?: unknown;
}

export interface ResourceConfiguration {
  resources: string[];
  providers: ProviderConfiguration[];
}

export interface EncryptionConfiguration {
  apiVersion: string;
  kind: string;
  resources: ResourceConfiguration[];
}

/** Where the server keeps its configuration unless `--encryption-provider-config` names another. */
export function defaultEncryptionConfigPath(dataDir: string): string {
  return join(dataDir, "tls", "encryption-config.yaml");
}

/** A fresh random 32-byte key, base64. */
export function newKeySecret(): string {
  return randomBytes(32).toString("base64");
}

/** The configuration made at first start: secrets under one new aescbc key, identity to read older plain data. */
export function defaultEncryptionConfig(): EncryptionConfiguration {
  return {
    apiVersion: ENCRYPTION_CONFIG_API_VERSION,
    kind: ENCRYPTION_CONFIG_KIND,
    resources: [{ resources: ["secrets"], providers: [{ aescbc: { keys: [{ name: DEFAULT_KEY_NAME, secret: newKeySecret() }] } }, { identity: {} }] }],
  };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

const KEY_LENGTHS: Record<"aescbc" | "aesgcm", number[]> = { aescbc: [32], aesgcm: [16, 24, 32] };

/**
 * Validates a decoded configuration as upstream's ValidateEncryptionConfiguration;
 * returns field errors as `path: message` lines (secrets shown as REDACTED).
 */
export function validateEncryptionConfig(raw: unknown): string[] {
  const errs: string[] = [];
  if (!isObj(raw)) return ["EncryptionConfiguration can't be nil"];
  if (raw.kind !== ENCRYPTION_CONFIG_KIND) errs.push(`kind: Invalid value: ${JSON.stringify(raw.kind ?? "")}: must be ${ENCRYPTION_CONFIG_KIND}`);
  if (raw.apiVersion !== ENCRYPTION_CONFIG_API_VERSION) {
    errs.push(`apiVersion: Invalid value: ${JSON.stringify(raw.apiVersion ?? "")}: must be ${ENCRYPTION_CONFIG_API_VERSION}`);
  }
  const resources = raw.resources;
  if (!Array.isArray(resources) || resources.length === 0) {
    errs.push("resources: Required value: at least one resource is required");
    return errs;
  }
  const seen = new Set<string>();
  resources.forEach((rc, i) => {
    const path = `resources[${i}]`;
    if (!isObj(rc)) {
      errs.push(`${path}: Invalid value: must be an object`);
      return;
    }
    const names = rc.resources;
    if (!Array.isArray(names) || names.length === 0) errs.push(`${path}.resources: Required value: at least one resource is required`);
    else {
      names.forEach((n, j) => {
        const p = `${path}.resources[${j}]`;
        if (typeof n !== "string" || n === "") {
          errs.push(`${p}: Required value: resource name is required`);
          return;
        }
        if (n !== n.toLowerCase()) errs.push(`${p}: Invalid value: ${JSON.stringify(n)}: resource name should not contain capital letters`);
        if (n === "*") errs.push(`${p}: Invalid value: "*": use '*.' to encrypt all the resources from core API group or *.* to encrypt all resources`);
        if (n.endsWith(".extensions")) errs.push(`${p}: Invalid value: ${JSON.stringify(n)}: 'extensions' group has been removed and cannot be used for encryption`);
        if (n.endsWith(".events.k8s.io")) {
          errs.push(`${p}: Invalid value: ${JSON.stringify(n)}: '*.events.k8s.io' objects are stored using the 'events' API group in etcd. Use 'events' instead in the config file`);
        }
        if (seen.has(n)) errs.push(`${p}: Duplicate value: ${JSON.stringify(n)}: the same resource cannot be specified multiple times`);
        seen.add(n);
      });
    }
    const providers = rc.providers;
    if (!Array.isArray(providers) || providers.length === 0) {
      errs.push(`${path}.providers: Required value: at least one provider is required`);
      return;
    }
    providers.forEach((pc, j) => {
      errs.push(...validateProvider(pc, `${path}.providers[${j}]`));
    });
  });
  return errs;
}

function validateProvider(pc: unknown, path: string): string[] {
  if (!isObj(pc)) return [`${path}: Invalid value: must be an object`];
  const set = Object.keys(pc).filter((k) => pc[k] !== undefined && pc[k] !== null);
  if (set.length === 0) return [`${path}: Invalid value: provider does not contain any of the expected providers: KMS, secretbox, AESGCM or AESCBC, identity`];
  if (set.length > 1) return [`${path}: Invalid value: more than one provider specified in a single element, should split into different list elements`];
  const kind = set[0]!;
  if (kind === "identity") return [];
  if (kind === "kms" || kind === "secretbox") return [`${path}.${kind}: Unsupported value: skiff does not support the ${kind} provider; use aescbc, aesgcm or identity`];
  if (kind !== "aescbc" && kind !== "aesgcm") return [`${path}.${kind}: Unsupported value: unknown provider; supported values: "aescbc", "aesgcm", "identity"`];
  const cfg = pc[kind];
  const keys = isObj(cfg) ? cfg.keys : undefined;
  if (!Array.isArray(keys) || keys.length === 0) return [`${path}.${kind}.keys: Required value: at least one key is required`];
  const errs: string[] = [];
  const names = new Set<string>();
  keys.forEach((k, i) => {
    const p = `${path}.${kind}.keys[${i}]`;
    const name = isObj(k) ? k.name : undefined;
    const secret = isObj(k) ? k.secret : undefined;
    if (typeof name !== "string" || name === "") errs.push(`${p}.name: Required value: name is a mandatory field for a key`);
    else if (names.has(name)) errs.push(`${p}.name: Duplicate value: ${JSON.stringify(name)}`);
    else names.add(name);
    if (typeof secret !== "string" || secret === "") {
      errs.push(`${p}.secret: Required value: secret is a mandatory field for a key`);
      return;
    }
    const bytes = decodeBase64Strict(secret);
    if (!bytes) {
      errs.push(`${p}.secret: Invalid value: "REDACTED": secrets must be base64 encoded`);
      return;
    }
    const lengths = KEY_LENGTHS[kind];
    if (!lengths.includes(bytes.length)) {
      errs.push(`${p}.secret: Invalid value: "REDACTED": secret is not of the expected length, got ${bytes.length}, expected one of [${lengths.join(" ")}]`);
    }
  });
  return errs;
}

/** Standard base64 with padding, as Go's StdEncoding; undefined when malformed. */
function decodeBase64Strict(s: string): Buffer | undefined {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)) return undefined;
  return Buffer.from(s, "base64");
}

/** Parses and validates a configuration file's text; throws one Error listing every problem. */
export function parseEncryptionConfig(text: string, source: string): EncryptionConfiguration {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new Error(`error while parsing file ${source}: ${(err as Error).message}`);
  }
  const errs = validateEncryptionConfig(raw);
  if (errs.length > 0) throw new Error(`error while parsing file ${source}: ${errs.length === 1 ? errs[0] : `[${errs.join(", ")}]`}`);
  return raw as EncryptionConfiguration;
}

export function loadEncryptionConfig(path: string): EncryptionConfiguration {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`error reading encryption provider configuration file ${path}: ${(err as Error).message}`);
  }
  return parseEncryptionConfig(text, path);
}

/** Writes the configuration atomically (a crash leaves the old file or the new one), mode 0600. */
export function writeEncryptionConfig(path: string, cfg: EncryptionConfiguration): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, stringify(cfg), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** The configuration at `path`, made with a new key if there is none yet. */
export function ensureEncryptionConfig(path: string): { config: EncryptionConfiguration; created: boolean } {
  if (existsSync(path)) return { config: loadEncryptionConfig(path), created: false };
  const config = defaultEncryptionConfig();
  writeEncryptionConfig(path, config);
  return { config, created: true };
}

/** The transformers of one provider list, in order (each key of a provider in its order). */
export function transformersOf(providers: readonly ProviderConfiguration[]): PrefixTransformers {
  const out: PrefixTransformer[] = [];
  for (const p of providers) {
    if (p.identity) out.push(identityTransformer);
    for (const k of p.aescbc?.keys ?? []) out.push(aescbcTransformer(k.name, Buffer.from(k.secret, "base64")));
    for (const k of p.aesgcm?.keys ?? []) out.push(aesgcmTransformer(k.name, Buffer.from(k.secret, "base64")));
  }
  return new PrefixTransformers(out);
}

/** The provider type name k3s prints: "AES-CBC", "AES-GCM", "Identity". */
export function providerLabel(provider: string): string {
  if (provider === "aescbc") return "AES-CBC";
  if (provider === "aesgcm") return "AES-GCM";
  return "Identity";
}
