/**
 * `skiff snapshot save|ls|restore|prune`: backups of the cluster store, as
 * `k3s etcd-snapshot` does them. They work on the datastore the server in
 * `--data-dir` last used, whether or not it is running (restore excepted).
 */
import { existsSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import type { Command } from "commander";
import { consoleLogger, type Logger } from "../machinery/log.js";
import { saveSqliteSnapshot } from "../storage/backends/sqlite/sqlite-snapshot.js";
import {
  type Datastore,
  type DatastoreTls,
  describeDatastore,
  openDatastore,
  parseDatastoreEndpoint,
  recordedDatastore,
} from "../storage/datastore.js";
import { ON_DEMAND_NAME, SCHEDULED_NAME, SnapshotManager, snapshotFormat } from "../storage/snapshot/manager.js";
import { defaultDataDir } from "./data-dir.js";
import { defaultNodeName, snapshotDir } from "./server.js";
import { runningServerPid } from "./server-lock.js";

interface CommonFlags {
  dataDir: string;
  datastoreEndpoint?: string;
  datastoreCafile?: string;
  datastoreCertfile?: string;
  datastoreKeyfile?: string;
  dir?: string;
}

function withCommon(cmd: Command): Command {
  return cmd
    .option("--data-dir <dir>", "the server's data directory", defaultDataDir())
    .option("--datastore-endpoint <url>", "datastore to use (default: the one the server in --data-dir uses)")
    .option("--datastore-cafile <file>", "CA bundle to verify an external etcd")
    .option("--datastore-certfile <file>", "client certificate for an external etcd")
    .option("--datastore-keyfile <file>", "client key for an external etcd")
    .option("--dir <dir>", "snapshot directory (default <data-dir>/db/snapshots)");
}

function datastoreOf(flags: CommonFlags): Datastore {
  const tls: DatastoreTls | undefined =
    flags.datastoreCafile || flags.datastoreCertfile || flags.datastoreKeyfile
      ? { caFile: flags.datastoreCafile, certFile: flags.datastoreCertfile, keyFile: flags.datastoreKeyfile }
      : undefined;
  if (flags.datastoreEndpoint) return parseDatastoreEndpoint(flags.datastoreEndpoint, flags.dataDir, tls);
  return recordedDatastore(flags.dataDir) ?? parseDatastoreEndpoint(undefined, flags.dataDir);
}

function managerOf(flags: CommonFlags, log: Logger): SnapshotManager {
  return new SnapshotManager({ dir: flags.dir ?? snapshotDir(flags.dataDir), nodeName: defaultNodeName(), logger: log });
}

function humanSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(1)} GiB`;
}

async function save(flags: CommonFlags & { name: string }, log: Logger): Promise<void> {
  const ds = datastoreOf(flags);
  const mgr = managerOf(flags, log);
  if (ds.kind === "sqlite") {
    if (!existsSync(ds.path)) throw new Error(`no store at ${ds.path}; start skiff server with this --data-dir first`);
    // Read-only, so it is safe next to a running server.
    const info = await mgr.save({ saveSnapshot: (p) => saveSqliteSnapshot(ds.path, p) }, flags.name);
    process.stdout.write(`Snapshot ${info.path} saved (${info.keys} keys at revision ${info.revision}, ${humanSize(info.sizeBytes)})\n`);
    return;
  }
  const store = await openDatastore(ds, { logger: log, signal: AbortSignal.timeout(60_000) });
  try {
    const info = await mgr.save(store, flags.name);
    process.stdout.write(`Snapshot ${info.path} saved (${info.format} format, revision ${info.revision}, ${humanSize(info.sizeBytes)})\n`);
  } finally {
    await store.close();
  }
}

async function ls(flags: CommonFlags & { output?: string }, log: Logger): Promise<void> {
  const files = await managerOf(flags, log).list();
  if (flags.output === "json") {
    process.stdout.write(JSON.stringify(files.map((f) => ({ ...f, createdAt: f.createdAt.toISOString() })), null, 2) + "\n");
    return;
  }
  const rows = [["Name", "Location", "Size", "Created"], ...files.map((f) => [f.name, `file://${f.path}`, String(f.sizeBytes), f.createdAt.toISOString()])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(r.map((c, i) => c.padEnd(widths[i]!)).join(" ").trimEnd() + "\n");
}

async function restore(file: string, flags: CommonFlags, log: Logger): Promise<void> {
  const mgr = managerOf(flags, log);
  const path = isAbsolute(file) || existsSync(file) ? file : join(mgr.dir, file);
  if (!existsSync(path)) throw new Error(`no snapshot ${file} (looked in the current directory and ${mgr.dir}); see skiff snapshot ls`);
  const pid = runningServerPid(flags.dataDir);
  if (pid) {
    throw new Error(`skiff server (pid ${pid}) is running on --data-dir ${flags.dataDir}; stop it, run this restore, then start it again`);
  }
  const format = await snapshotFormat(path);
  const ds = datastoreOf(flags);
  log.info("restoring", { snapshot: path, format, into: describeDatastore(ds) });
  const store = await openDatastore(ds, { logger: log, signal: AbortSignal.timeout(60_000) });
  try {
    const r = await mgr.restore(store, path);
    process.stdout.write(
      `Restored ${r.keys} keys from ${path}; the store is at revision ${r.revision} and older revisions count as compacted, ` +
        `so clients relist when they reconnect.\n`,
    );
    if (format === "etcd" && ds.kind === "etcd") {
      const { etcdFullRestoreCommands } = await import("../storage/backends/etcd/etcd-process.js");
      process.stdout.write(
        "skiff's keys were restored through the etcd API. For a full restore of the etcd member itself " +
          "(every key, original revisions), stop etcd and run:\n" +
          // Bring the member back on the client URL this datastore uses, not etcd's default port.
          etcdFullRestoreCommands(path, "/var/lib/etcd-restored", ds.endpoints.length === 1 ? { clientUrl: ds.endpoints[0] } : {})
            .map((c) => `  ${c}`)
            .join("\n") +
          "\n",
      );
    }
  } finally {
    await store.close();
  }
}

async function prune(flags: CommonFlags & { retention: string; name: string }, log: Logger): Promise<void> {
  const removed = await managerOf(flags, log).prune(Number(flags.retention), flags.name);
  process.stdout.write(`Removed ${removed.length} snapshot(s)${removed.map((f) => `\n  ${f.name}`).join("")}\n`);
}

/**
 * Adapts a subcommand body to commander, which calls actions with
 * (...arguments, options, command): the command is dropped and a logger
 * appended. Failures become one clear line and exit code 1.
 */
function run<A extends unknown[]>(fn: (...args: [...A, Logger]) => Promise<void>) {
  return async (...args: [...A, Command]) => {
    const log = consoleLogger();
    try {
      await fn(...(args.slice(0, -1) as A), log);
    } catch (err) {
      process.stderr.write(`error: ${(err as Error).message}\n`);
      process.exit(1);
    }
  };
}

/** Registers `skiff snapshot …` on the program. */
export function registerSnapshot(program: Command): void {
  const snap = program.command("snapshot").description("Save, list, restore and prune snapshots of the cluster store");
  withCommon(snap.command("save").description("Save a snapshot now"))
    .option("--name <name>", "snapshot name prefix", ON_DEMAND_NAME)
    .action(run((flags: CommonFlags & { name: string }, log: Logger) => save(flags, log)));
  withCommon(snap.command("ls").alias("list").description("List saved snapshots"))
    .option("-o, --output <format>", "table (default) or json")
    .action(run((flags: CommonFlags & { output?: string }, log: Logger) => ls(flags, log)));
  withCommon(snap.command("restore").argument("<file>", "snapshot file, or a name from skiff snapshot ls").description("Replace the store's contents with a snapshot (server stopped)"))
    .action(run((file: string, flags: CommonFlags, log: Logger) => restore(file, flags, log)));
  withCommon(snap.command("prune").description("Delete the oldest snapshots, keeping --retention"))
    .option("--retention <n>", "snapshots to keep", "5")
    .option("--name <name>", "prune snapshots whose name starts with this", SCHEDULED_NAME)
    .action(run((flags: CommonFlags & { retention: string; name: string }, log: Logger) => prune(flags, log)));
}
