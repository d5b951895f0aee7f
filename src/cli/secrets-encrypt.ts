/**
 * `skiff secrets-encrypt status|rotate-keys` (k3s' command names): shows the
 * encryption-at-rest configuration and rotates its key.
 *
 * Rotation works on the data dir of a stopped server: the server keeps its
 * keys in memory, so rewriting values under it would leave it unable to read
 * them until restarted (k3s coordinates that through its servers; skiff has
 * one API server per data dir, so stop, rotate, start is the same outcome with
 * no window where a key is missing). The command claims the data dir, so a
 * server cannot start while it runs.
 */
import { existsSync } from "node:fs";
import type { Command } from "commander";
import { defaultEncryptionConfigPath, type EncryptionConfiguration, loadEncryptionConfig, providerLabel, writeEncryptionConfig } from "../apiserver/encryption/config.js";
import { rewriteAll, withNewKey, withoutOldKeys } from "../apiserver/encryption/rotate.js";
import { consoleLogger, type Logger } from "../machinery/log.js";
import { describeDatastore, openDatastore, parseDatastoreEndpoint, recordedDatastore } from "../storage/datastore.js";
import { defaultDataDir } from "./data-dir.js";
import { claimDataDir, runningServerPid } from "./server-lock.js";

interface Flags {
  dataDir: string;
  encryptionProviderConfig?: string;
}

function configPath(flags: Flags): string {
  const path = flags.encryptionProviderConfig ?? defaultEncryptionConfigPath(flags.dataDir);
  if (!existsSync(path)) throw new Error(`no encryption configuration at ${path}; start skiff server with this --data-dir first (it creates one)`);
  return path;
}

/** The rows of `status`: one per configured provider key, the write key marked active. */
export function statusLines(cfg: EncryptionConfiguration, path: string, serverPid: number | undefined): string[] {
  const encrypting = cfg.resources.filter((rc) => !rc.providers[0]?.identity);
  const lines = [
    `Encryption Status: ${encrypting.length > 0 ? "Enabled" : "Disabled"}`,
    `Encryption Provider Config: ${path}`,
    `Server: ${serverPid ? `running (pid ${serverPid})` : "stopped"}`,
  ];
  for (const rc of cfg.resources) {
    lines.push("", `Resources: ${rc.resources.join(", ")}`);
    const rows: string[][] = [["Active", "Key Type", "Name"]];
    let first = true;
    for (const p of rc.providers) {
      const kind = p.aescbc ? "aescbc" : p.aesgcm ? "aesgcm" : "identity";
      const keys = p.aescbc?.keys ?? p.aesgcm?.keys ?? [{ name: "", secret: "" }];
      for (const k of keys) {
        rows.push([first ? " *" : "", providerLabel(kind), k.name]);
        first = false;
      }
    }
    rows.splice(1, 0, rows[0]!.map((h) => "-".repeat(h.length)));
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) lines.push(r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd());
  }
  return lines;
}

async function status(flags: Flags): Promise<void> {
  const path = configPath(flags);
  process.stdout.write(`${statusLines(loadEncryptionConfig(path), path, runningServerPid(flags.dataDir)).join("\n")}\n`);
}

async function rotateKeys(flags: Flags, log: Logger): Promise<void> {
  const path = configPath(flags);
  const pid = runningServerPid(flags.dataDir);
  if (pid) {
    throw new Error(
      `skiff server (pid ${pid}) is running on --data-dir ${flags.dataDir}; it holds the keys in memory, so stop it, run skiff secrets-encrypt rotate-keys, then start it again`,
    );
  }
  const release = claimDataDir(flags.dataDir);
  try {
    const old = loadEncryptionConfig(path);
    const { config: staged, keyName } = withNewKey(old, new Date());
    const ds = recordedDatastore(flags.dataDir) ?? parseDatastoreEndpoint(undefined, flags.dataDir);
    const store = await openDatastore(ds, { logger: log, signal: AbortSignal.timeout(60_000) });
    try {
      // The new key first, the old ones still there: every value stays readable if this stops midway.
      writeEncryptionConfig(path, staged);
      log.info("added encryption key", { key: keyName, config: path });
      const r = await rewriteAll(store, staged);
      log.info("rewrote encrypted resources", { datastore: describeDatastore(ds), rewritten: r.rewritten, alreadyCurrent: r.current });
      writeEncryptionConfig(path, withoutOldKeys(staged));
      process.stdout.write(`keys rotated: ${r.rewritten + r.current} value(s) now encrypted with ${keyName}; old keys removed from ${path}\n`);
    } finally {
      await store.close();
    }
  } finally {
    release();
  }
}

function run(fn: (flags: Flags, log: Logger) => Promise<void>) {
  return async (flags: Flags) => {
    try {
      await fn(flags, consoleLogger());
    } catch (err) {
      process.stderr.write(`error: ${(err as Error).message}\n`);
      process.exit(1);
    }
  };
}

/** Registers `skiff secrets-encrypt …` on the program. */
export function registerSecretsEncrypt(program: Command): void {
  const cmd = program.command("secrets-encrypt").description("Show and rotate the keys that encrypt Secrets at rest");
  const common = (c: Command) =>
    c
      .option("--data-dir <dir>", "the server's data directory", defaultDataDir())
      .option("--encryption-provider-config <file>", "EncryptionConfiguration file (default <data-dir>/tls/encryption-config.yaml)");
  common(cmd.command("status").description("Show whether encryption is on and which keys are configured")).action(run(status));
  common(
    cmd.command("rotate-keys").description("Add a new key, re-encrypt every encrypted resource with it, and drop the old keys (server stopped)"),
  ).action(run(rotateKeys));
}
