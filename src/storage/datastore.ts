/**
 * Which store a server uses: `--datastore-endpoint` parsing (k3s' forms) and
 * opening the backend it names.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../machinery/log.js";
import { openMemoryStore } from "./backends/memory/memory-store.js";
import { SqliteStore } from "./backends/sqlite/sqlite-store.js";
import type { Store } from "./store.js";

/** Client TLS files for an external etcd (k3s' `--datastore-cafile` etc.). */
export interface DatastoreTls {
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
}

export type Datastore =
  | { readonly kind: "sqlite"; readonly path: string }
  | { readonly kind: "etcd"; readonly endpoints: string[]; readonly tls?: DatastoreTls }
  | { readonly kind: "memory" };

/** Thrown for an endpoint skiff cannot use; the message says what it accepts. */
export class DatastoreEndpointError extends Error {
  override name = "DatastoreEndpointError";
}

const ACCEPTED = "sqlite://PATH, etcd://HOST:PORT[,HOST:PORT…], or http(s)://HOST:PORT[,HOST:PORT…] for etcd";

/**
 * Parses `--datastore-endpoint`. Empty means the embedded default,
 * `<dataDir>/db/state.db`. `etcd://h:p` is plain-HTTP etcd; k3s' form
 * `https://h1:2379,h2:2379` is etcd too, with `tls` for client certificates.
 */
export function parseDatastoreEndpoint(endpoint: string | undefined, dataDir: string, tls?: DatastoreTls): Datastore {
  const e = (endpoint ?? "").trim();
  if (e === "") return { kind: "sqlite", path: join(dataDir, "db", "state.db") };
  if (e === "memory://") return { kind: "memory" };
  const scheme = /^([a-z0-9+]+):\/\//i.exec(e)?.[1]?.toLowerCase();
  if (scheme === "sqlite") {
    const path = e.slice("sqlite://".length).split("?")[0]!;
    if (!path) throw new DatastoreEndpointError(`--datastore-endpoint ${e} names no file; use sqlite:///path/to/state.db`);
    return { kind: "sqlite", path };
  }
  if (scheme === "etcd" || scheme === "http" || scheme === "https") {
    const rest = e.slice(scheme.length + 3);
    const hosts = rest.split(",").map((h) => h.trim().replace(/^(etcd|https?):\/\//i, "").replace(/\/+$/, ""));
    if (hosts.some((h) => !/^[^\s/:]+:\d{1,5}$/.test(h) && !/^\[[0-9a-f:]+\]:\d{1,5}$/i.test(h))) {
      throw new DatastoreEndpointError(`--datastore-endpoint ${e}: every etcd member must be HOST:PORT; accepted forms: ${ACCEPTED}`);
    }
    const proto = scheme === "https" || tls?.caFile || tls?.certFile ? "https" : "http";
    return { kind: "etcd", endpoints: hosts.map((h) => `${proto}://${h}`), ...(tls ? { tls } : {}) };
  }
  throw new DatastoreEndpointError(`unsupported --datastore-endpoint ${e}; accepted forms: ${ACCEPTED}`);
}

/** One line naming the datastore for logs and `skiff snapshot ls`. */
export function describeDatastore(d: Datastore): string {
  if (d.kind === "sqlite") return `sqlite ${d.path}`;
  if (d.kind === "etcd") return `etcd ${d.endpoints.join(",")}`;
  return "memory";
}

export interface OpenDatastoreOptions {
  readonly logger: Logger;
  /** Gives up waiting for an unreachable etcd when aborted. */
  readonly signal?: AbortSignal;
}

/** Opens the store a {@link Datastore} names, waiting (with backoff) for etcd to answer. */
export async function openDatastore(d: Datastore, opts: OpenDatastoreOptions): Promise<Store> {
  const logger = opts.logger.with({ component: "store" });
  if (d.kind === "sqlite") return SqliteStore.open({ path: d.path, logger });
  if (d.kind === "memory") return openMemoryStore({ logger });
  const tls = d.tls ? { ca: d.tls.caFile, cert: d.tls.certFile, key: d.tls.keyFile } : undefined;
  // Loaded only when chosen: the etcd client (gRPC) costs ~30 MB a SQLite server does not need.
  const { EtcdStore } = await import("./backends/etcd/etcd-store.js");
  return EtcdStore.open({ endpoints: d.endpoints, tls, logger, signal: opts.signal });
}

const RECORD = "datastore.json";

/**
 * Remembers which datastore the server in `dataDir` uses, so `skiff snapshot`
 * finds it without repeating the flags.
 */
export function recordDatastore(dataDir: string, d: Datastore): void {
  writeFileSync(join(dataDir, "db", RECORD), JSON.stringify(d, null, 2) + "\n", { mode: 0o600 });
}

/** The datastore recorded by the last server start in `dataDir`, if any. */
export function recordedDatastore(dataDir: string): Datastore | undefined {
  try {
    return JSON.parse(readFileSync(join(dataDir, "db", RECORD), "utf8")) as Datastore;
  } catch {
    return undefined;
  }
}
