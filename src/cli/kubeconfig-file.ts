/**
 * kubeconfig documents: build the admin one, write it, and merge it into a
 * user's kubeconfig the way kubectl itself edits one. A merge edits the
 * YAML in place, so every other entry, unknown field and comment stays as it
 * was; the file is replaced atomically under kubectl's own lock file
 * (`<file>.lock`), and a file that does not parse is refused, never
 * overwritten.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, realpathSync, rmSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { type Document, isMap, isScalar, isSeq, parseDocument, stringify, YAMLSeq } from "yaml";
import { writeFileAtomic } from "../machinery/atomic-file.js";

/** A `clusters[].cluster`; fields beyond these pass through untouched. */
export interface KubeconfigCluster {
  server: string;
  "certificate-authority-data"?: string;
  [field: string]: unknown;
}

/** A `users[].user`; fields beyond these pass through untouched. */
export interface KubeconfigUser {
  "client-certificate-data"?: string;
  "client-key-data"?: string;
  [field: string]: unknown;
}

/** A `contexts[].context`. */
export interface KubeconfigContext {
  cluster: string;
  user: string;
  namespace?: string;
  [field: string]: unknown;
}

/** A kubeconfig (`apiVersion: v1`, `kind: Config`) as kubectl reads it. */
export interface Kubeconfig {
  apiVersion: string;
  kind: string;
  clusters: { name: string; cluster: KubeconfigCluster }[];
  users: { name: string; user: KubeconfigUser }[];
  contexts: { name: string; context: KubeconfigContext }[];
  "current-context": string;
  preferences?: Record<string, unknown>;
  [field: string]: unknown;
}

/** Options for {@link buildKubeconfig}. */
export interface BuildKubeconfigOptions {
  /** Names the cluster, the user and the context alike (kind and k3s do the same), e.g. "skiff". */
  readonly clusterName: string;
  /** The API server URL, e.g. `https://127.0.0.1:6443`. */
  readonly server: string;
  /** The CA that signed the API server's serving certificate (PEM). */
  readonly caPem: string;
  readonly clientCertPem: string;
  readonly clientKeyPem: string;
}

const b64 = (pem: string) => Buffer.from(pem, "utf8").toString("base64");

/** A single-context kubeconfig with embedded certificates, current-context set. */
export function buildKubeconfig(opts: BuildKubeconfigOptions): Kubeconfig {
  checkServerUrl(opts.server);
  const name = opts.clusterName;
  return {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name, cluster: { server: opts.server, "certificate-authority-data": b64(opts.caPem) } }],
    users: [{ name, user: { "client-certificate-data": b64(opts.clientCertPem), "client-key-data": b64(opts.clientKeyPem) } }],
    contexts: [{ name, context: { cluster: name, user: name } }],
    "current-context": name,
    preferences: {},
  };
}

/** Throws unless `server` is an https URL (the API server speaks nothing else). */
export function checkServerUrl(server: string): void {
  let u: URL;
  try {
    u = new URL(server);
  } catch {
    throw new Error(`invalid server URL ${JSON.stringify(server)}: expected https://HOST:PORT`);
  }
  if (u.protocol !== "https:") throw new Error(`invalid server URL ${JSON.stringify(server)}: must be https`);
}

// kubectl's layout: sequences flush with their key, long base64 never folded.
const YAML_OUT = { indentSeq: false, lineWidth: 0 } as const;

/** The YAML text of a kubeconfig. */
export function kubeconfigToYaml(doc: Kubeconfig): string {
  return stringify(doc, YAML_OUT);
}

/** Parses and checks a kubeconfig; `source` names it in errors. */
export function parseKubeconfig(text: string, source: string): Kubeconfig {
  const parsed = parseDocument(text);
  if (parsed.errors.length > 0) throw new Error(`${source} is not valid YAML: ${parsed.errors[0]!.message.split("\n")[0]}`);
  const value: unknown = parsed.toJS() ?? {};
  if (typeof value !== "object" || Array.isArray(value)) throw new Error(`${source} is not a kubeconfig: the top level is not a mapping`);
  const obj = value as Record<string, unknown>;
  for (const key of ["clusters", "users", "contexts"] as const) {
    const list = obj[key] ?? [];
    if (!Array.isArray(list)) throw new Error(`${source} is not a kubeconfig: ${key} is not a list`);
    obj[key] = list;
  }
  return {
    apiVersion: "v1",
    kind: "Config",
    "current-context": "",
    ...obj,
  } as Kubeconfig;
}

/** Reads and checks a kubeconfig file. */
export function readKubeconfig(path: string): Kubeconfig {
  return parseKubeconfig(readFileSync(path, "utf8"), path);
}

/** Writes `doc` to `path` atomically with mode 0600, creating the directory (0700) if needed. */
export function writeKubeconfig(path: string, doc: Kubeconfig): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileAtomic(path, kubeconfigToYaml(doc), { mode: 0o600 });
}

/**
 * A single-context copy of `doc`'s current context, renamed (cluster, user
 * and context all `clusterName`) and/or pointed at another `server`.
 */
export function retargetKubeconfig(doc: Kubeconfig, opts: { clusterName?: string; server?: string }): Kubeconfig {
  const ctx = doc.contexts.find((c) => c.name === doc["current-context"]) ?? doc.contexts[0];
  if (!ctx) throw new Error("the kubeconfig has no context");
  const cluster = doc.clusters.find((c) => c.name === ctx.context.cluster);
  const user = doc.users.find((u) => u.name === ctx.context.user);
  if (!cluster || !user) throw new Error(`context ${ctx.name} names a cluster or user the kubeconfig does not have`);
  if (opts.server !== undefined) checkServerUrl(opts.server);
  const name = opts.clusterName ?? ctx.name;
  return {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name, cluster: { ...cluster.cluster, ...(opts.server !== undefined ? { server: opts.server } : {}) } }],
    users: [{ name, user: { ...user.user } }],
    contexts: [{ name, context: { ...ctx.context, cluster: name, user: name } }],
    "current-context": name,
    preferences: {},
  };
}

/** Options for {@link kubeconfigChain}. */
export interface KubeconfigChainOptions {
  /** `--kubeconfig`: when set, the only file, as in kubectl. */
  readonly explicitPath?: string;
  /** Where `KUBECONFIG` is read; `process.env` unless given. */
  readonly env?: NodeJS.ProcessEnv;
  /** `~`; `os.homedir()` unless given. */
  readonly homeDir?: string;
}

/**
 * The kubeconfig files kubectl would load, in precedence order: the
 * `--kubeconfig` file alone; else the `KUBECONFIG` list (empty entries
 * dropped, duplicates removed); else `~/.kube/config`.
 */
export function kubeconfigChain(opts: KubeconfigChainOptions = {}): string[] {
  if (opts.explicitPath) return [resolve(opts.explicitPath)];
  const list = (opts.env ?? process.env).KUBECONFIG;
  if (list) {
    const paths = [...new Set(list.split(delimiter).filter((p) => p !== "").map((p) => resolve(p)))];
    if (paths.length > 0) return paths;
  }
  return [join(opts.homeDir ?? homedir(), ".kube", "config")];
}

/** Options for {@link mergeKubeconfig}. */
export interface MergeKubeconfigOptions {
  /** Make the merged context the current one (as `aws eks update-kubeconfig` and kind do). */
  readonly setCurrentContext: boolean;
}

/** What a merge did with the context. */
export interface MergeKubeconfigResult {
  /** The file that now holds the context. */
  readonly path: string;
  readonly contextName: string;
  /** True when no context of that name existed before. */
  readonly added: boolean;
}

type Section = "clusters" | "users" | "contexts";
const SECTIONS: readonly Section[] = ["clusters", "users", "contexts"];

interface Entries {
  clusters: Kubeconfig["clusters"];
  users: Kubeconfig["users"];
  contexts: Kubeconfig["contexts"];
}

const LOCK_WAIT_MS = 3000;

/** kubectl's lock protocol: create `<file>.lock` exclusively, remove it when done. */
function withLock<T>(path: string, fn: () => T): T {
  const lock = `${path}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(lock, "wx", 0o600));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      if (Date.now() > deadline) {
        throw new Error(`${path} is locked by another writer (${lock} exists); if nothing is editing it, remove ${lock}`);
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

function refuse(path: string, why: string): never {
  throw new Error(`refusing to modify ${path}: ${why}; fix it or move it away, it was left unchanged`);
}

/** The file's YAML document, or an empty mapping for a missing or empty file; refuses anything else. */
function loadDocument(path: string, text: string | undefined): Document {
  const doc: Document = parseDocument(text ?? "");
  if (doc.errors.length > 0) refuse(path, `not valid YAML (${doc.errors[0]!.message.split("\n")[0]})`);
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    doc.contents = doc.createNode({});
  }
  if (!isMap(doc.contents)) refuse(path, "the top level is not a mapping");
  for (const s of SECTIONS) {
    const node: unknown = doc.get(s, true);
    if (node === undefined || (isScalar(node) && node.value === null)) continue;
    if (!isSeq(node)) refuse(path, `${s} is not a list`);
  }
  return doc;
}

function namesIn(doc: Document, section: Section): Set<string> {
  const seq: unknown = doc.get(section, true);
  const out = new Set<string>();
  if (!isSeq(seq)) return out;
  for (const item of seq.items) {
    const name = isMap(item) ? item.get("name") : undefined;
    if (typeof name === "string") out.add(name);
  }
  return out;
}

/** Replaces the same-named entry of each section in place, or appends. */
function applyEntries(doc: Document, entries: Entries, currentContext: string | undefined): void {
  if (!doc.has("apiVersion")) doc.set("apiVersion", "v1");
  if (!doc.has("kind")) doc.set("kind", "Config");
  for (const s of SECTIONS) {
    if (entries[s].length === 0) continue;
    let seq: unknown = doc.get(s, true);
    if (!isSeq(seq)) {
      seq = new YAMLSeq();
      doc.set(s, seq);
    }
    const items = (seq as YAMLSeq).items;
    // An empty `[]` would otherwise grow into a one-line flow list; a non-empty flow list is the user's style.
    if (items.length === 0) (seq as YAMLSeq).flow = false;
    for (const e of entries[s]) {
      const node = doc.createNode(e);
      const i = items.findIndex((item) => isMap(item) && item.get("name") === e.name);
      if (i >= 0) items[i] = node;
      else items.push(node);
    }
  }
  if (currentContext !== undefined) doc.set("current-context", currentContext);
}

/** Reads `path` under its lock, applies `entries`, writes it back atomically (keeping its mode). */
function mergeIntoFile(path: string, entries: Entries, currentContext: string | undefined): void {
  // Write through a symlinked kubeconfig (dotfile setups) instead of replacing the link.
  const target = existsSync(path) ? realpathSync(path) : path;
  mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
  withLock(target, () => {
    const text = existsSync(target) ? readFileSync(target, "utf8") : undefined;
    const doc = loadDocument(path, text);
    applyEntries(doc, entries, currentContext);
    const out = doc.toString(YAML_OUT);
    if (out === text) return;
    const mode = text === undefined ? 0o600 : statSync(target).mode & 0o777;
    writeFileAtomic(target, out, { mode });
  });
}

function entriesOf(doc: Kubeconfig): Entries {
  return { clusters: doc.clusters, users: doc.users, contexts: doc.contexts };
}

function contextNameOf(doc: Kubeconfig): string {
  const name = doc["current-context"] || doc.contexts[0]?.name;
  if (!name) throw new Error("the kubeconfig to merge has no context");
  return name;
}

/**
 * Merges `doc`'s clusters, users and contexts into the kubeconfig at
 * `targetPath`: same-named entries are replaced, others appended, the rest
 * of the file is kept as it was. Creates the file (0600) and its directory
 * if missing; refuses, leaving it intact, a file that is not a kubeconfig.
 */
export function mergeKubeconfig(targetPath: string, doc: Kubeconfig, opts: MergeKubeconfigOptions): MergeKubeconfigResult {
  const contextName = contextNameOf(doc);
  const path = resolve(targetPath);
  const before = existsSync(path) ? loadDocument(path, readFileSync(path, "utf8")) : undefined;
  const added = !before || !namesIn(before, "contexts").has(contextName);
  mergeIntoFile(path, entriesOf(doc), opts.setCurrentContext ? contextName : undefined);
  return { path, contextName, added };
}

/**
 * {@link mergeKubeconfig} over a kubectl loading chain (see
 * {@link kubeconfigChain}), with kubectl's rules for where writes go: an
 * entry that exists is replaced in the first file that defines it; a new
 * entry goes to the first file that exists, or the last file of the chain
 * when none does; current-context goes to that same first existing file.
 * Every file is checked before any is written.
 */
export function mergeKubeconfigChain(chain: readonly string[], doc: Kubeconfig, opts: MergeKubeconfigOptions): MergeKubeconfigResult {
  if (chain.length === 0) throw new Error("no kubeconfig file to merge into");
  if (chain.length === 1) return mergeKubeconfig(chain[0]!, doc, opts);
  const contextName = contextNameOf(doc);
  const loaded = chain.map((path) => ({
    path,
    doc: existsSync(path) ? loadDocument(path, readFileSync(path, "utf8")) : undefined,
  }));
  const defaultFile = loaded.find((f) => f.doc)?.path ?? chain[chain.length - 1]!;
  const plan = new Map<string, Entries>(chain.map((p) => [p, { clusters: [], users: [], contexts: [] }]));
  let contextFile = defaultFile;
  let added = true;
  for (const s of SECTIONS) {
    for (const entry of doc[s]) {
      const owner = loaded.find((f) => f.doc && namesIn(f.doc, s).has(entry.name))?.path;
      (plan.get(owner ?? defaultFile)![s] as { name: string }[]).push(entry);
      if (s === "contexts" && entry.name === contextName && owner) {
        contextFile = owner;
        added = false;
      }
    }
  }
  for (const path of chain) {
    const entries = plan.get(path)!;
    const setCc = opts.setCurrentContext && path === defaultFile;
    if (SECTIONS.every((s) => entries[s].length === 0) && !setCc) continue;
    mergeIntoFile(path, entries, setCc ? contextName : undefined);
  }
  return { path: contextFile, contextName, added };
}

function sameContent(node: unknown, wanted: unknown): boolean {
  const plain = isMap(node) ? (node.toJSON() as unknown) : node;
  return JSON.stringify(plain) === JSON.stringify(wanted);
}

/**
 * Takes `doc`'s clusters, users and contexts back out of each file of a
 * kubectl loading chain (what `skiff uninstall` does to the context the
 * server merged). Only entries whose name and content still match `doc`
 * are removed: a same-named entry that now points elsewhere belongs to
 * someone else and stays. `current-context` is cleared when it named a
 * removed context. Files are edited in place under kubectl's lock, as a
 * merge does. Resolves with the `section/name`s removed.
 */
export function unmergeKubeconfigChain(chain: readonly string[], doc: Kubeconfig): string[] {
  const removed: string[] = [];
  for (const path of chain) {
    if (!existsSync(path)) continue;
    const target = realpathSync(path);
    withLock(target, () => {
      const text = readFileSync(target, "utf8");
      const file = loadDocument(path, text);
      const removedHere = new Set<string>();
      for (const s of SECTIONS) {
        const seq: unknown = file.get(s, true);
        if (!isSeq(seq)) continue;
        const key = s.slice(0, -1) as "cluster" | "user" | "context";
        const wanted = new Map<string, unknown>((doc[s] as { name: string }[]).map((e) => [e.name, (e as unknown as Record<string, unknown>)[key]]));
        seq.items = seq.items.filter((item) => {
          if (!isMap(item)) return true;
          const name = item.get("name");
          if (typeof name !== "string" || !wanted.has(name) || !sameContent(item.get(key, true), wanted.get(name))) return true;
          removed.push(`${s}/${name}`);
          if (s === "contexts") removedHere.add(name);
          return false;
        });
      }
      const current = file.get("current-context");
      if (typeof current === "string" && removedHere.has(current)) file.set("current-context", "");
      const out = file.toString(YAML_OUT);
      if (out !== text) writeFileAtomic(target, out, { mode: statSync(target).mode & 0o777 });
    });
  }
  return removed;
}
