/**
 * The cluster registry's place in `skiff server` and the `skiff registry`
 * command. The registry signs login passwords and access tokens with its
 * own key, `<data-dir>/tls/registry-signing.key` (EC P-256, made at first
 * start, mode 0600), and serves with the API server's certificate (the
 * cluster's server CA, the same names and addresses).
 *
 * The registry's name is `localhost:PORT` (5000 by default), published in
 * KEP-1755's ConfigMap `kube-public/local-registry-hosting`; every node maps
 * that name to the server (see runtime/images/cluster-registry.ts).
 *
 * `skiff registry login-password` prints a short-lived password, as
 * `aws ecr get-login-password` does: `skiff registry login-password |
 * skopeo login --username skiff --password-stdin localhost:5000`. The username
 * is always `skiff` (ECR's is always `AWS`): it names nobody, the password
 * carries the rights (pull, push and delete on every repository).
 *
 * The registry also asks for client certificates from the cluster's client
 * CA: a node's own (`system:node:NAME`) pulls without any password.
 */
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Command } from "commander";
import type { Logger } from "../machinery/log.js";
import { parseDuration } from "../machinery/duration.js";
import { defaultDataDir } from "./data-dir.js";

/** Where the registry's signing key lives in a data dir. */
export function registrySigningKeyPath(dataDir: string): string {
  return join(dataDir, "tls", "registry-signing.key");
}

/** The registry's signing key (PEM), made on first use. */
export function ensureRegistrySigningKey(dataDir: string): string {
  const file = registrySigningKeyPath(dataDir);
  if (!existsSync(file)) {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
  }
  return readFileSync(file, "utf8");
}

/** What `skiff server` needs to run the registry. */
export interface ServerRegistryOptions {
  readonly dataDir: string;
  readonly dir: string;
  readonly host: string;
  readonly port: number;
  readonly certFile: string;
  readonly keyFile: string;
  /** The cluster's client CA: nodes' certificates from it pull as the node. */
  readonly clientCaFile?: string;
  readonly anonymousPull: readonly string[];
  readonly logger: Logger;
}

/** How often unreferenced blobs are collected. */
const GC_PERIOD_MS = 60 * 60_000;

/** The registry as the server runs it. */
export interface ServerRegistry {
  /** The port it listens on (the real one when 0 was asked). */
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts the registry; resolves with it, or undefined (logged) when it cannot listen. */
export async function startServerRegistry(o: ServerRegistryOptions): Promise<ServerRegistry | undefined> {
  const log = o.logger.with({ component: "registry" });
  const { startRegistry } = await import("../registry/index.js");
  try {
    const registry = await startRegistry({
      dir: o.dir,
      listen: { host: o.host, port: o.port },
      tls: {
        certPem: readFileSync(o.certFile, "utf8"),
        keyPem: readFileSync(o.keyFile, "utf8"),
        ...(o.clientCaFile !== undefined ? { clientCaPem: readFileSync(o.clientCaFile, "utf8") } : {}),
      },
      signingKey: ensureRegistrySigningKey(o.dataDir),
      anonymousPull: o.anonymousPull,
      logger: log,
    });
    log.info("image registry listening", {
      address: o.host,
      port: registry.port,
      name: `localhost:${registry.port}`,
      dir: o.dir,
      login: `skiff registry login-password | skopeo login --username skiff --password-stdin localhost:${registry.port}`,
    });
    const timer = setInterval(() => {
      registry.garbageCollect().catch((err: Error) => log.warn("registry garbage collection failed", { err: err.message }));
    }, GC_PERIOD_MS);
    timer.unref();
    return {
      port: registry.port,
      async stop() {
        clearInterval(timer);
        await registry.stop();
      },
    };
  } catch (err) {
    log.error("the image registry could not start; free the port, pass --registry-port (0: any free port), or --disable registry", {
      address: o.host,
      port: o.port,
      err: (err as Error).message,
    });
    return undefined;
  }
}

/** `skiff registry`. */
export function registerRegistry(program: Command): void {
  const registry = program.command("registry").description("The cluster's image registry");
  registry
    .command("login-password")
    .description("Print a short-lived password for the cluster registry (username: skiff), as `aws ecr get-login-password` does")
    .option("--data-dir <dir>", "the server's state directory (its tls/registry-signing.key signs the password)", defaultDataDir())
    .option("--ttl <duration>", "how long the password is valid", "12h")
    .action(async (flags: { dataDir: string; ttl: string }) => {
      const file = registrySigningKeyPath(flags.dataDir);
      if (!existsSync(file)) throw new Error(`no registry key at ${file}: run this on the server's machine (as the user that runs it), or pass its --data-dir`);
      let seconds: number;
      try {
        seconds = Math.floor(parseDuration(flags.ttl) / 1000);
      } catch (err) {
        throw new Error(`--ttl: ${(err as Error).message}`);
      }
      if (!(seconds > 0)) throw new Error(`--ttl must be positive, not ${flags.ttl}`);
      const { mintLoginPassword } = await import("../registry/index.js");
      process.stdout.write(`${await mintLoginPassword({ key: readFileSync(file, "utf8"), ttl: seconds })}\n`);
    });
}
