/**
 * `skiff kubeconfig [--merge]`: print the admin kubeconfig the server wrote
 * to `<data-dir>/kubeconfig.yaml`, or merge it into the user's kubeconfig
 * and make it current, reporting like `aws eks update-kubeconfig` does.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { defaultDataDir } from "./data-dir.js";
import { kubeconfigChain, kubeconfigToYaml, mergeKubeconfigChain, parseKubeconfig, retargetKubeconfig } from "./kubeconfig-file.js";

/** Flags of `skiff kubeconfig`. */
export interface KubeconfigFlags {
  readonly dataDir: string;
  readonly merge?: boolean;
  readonly clusterName?: string;
  readonly server?: string;
  readonly kubeconfig?: string;
}

/** Where the command writes and which environment it reads (tests pass their own). */
export interface KubeconfigIo {
  readonly write: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly homeDir?: string;
}

const processIo: KubeconfigIo = { write: (t) => void process.stdout.write(t), env: process.env };

/** The admin kubeconfig's path in a data dir. */
export function adminKubeconfigPath(dataDir: string): string {
  return join(dataDir, "kubeconfig.yaml");
}

/** Runs `skiff kubeconfig` with parsed flags. */
export function runKubeconfig(flags: KubeconfigFlags, io: KubeconfigIo = processIo): void {
  const file = adminKubeconfigPath(flags.dataDir);
  if (!existsSync(file)) throw new Error(`no kubeconfig in ${flags.dataDir}: start skiff server first`);
  const text = readFileSync(file, "utf8");
  const retarget = flags.clusterName !== undefined || flags.server !== undefined;
  if (!flags.merge && !retarget) {
    io.write(text);
    return;
  }
  const doc = retargetKubeconfig(parseKubeconfig(text, file), { clusterName: flags.clusterName, server: flags.server });
  if (!flags.merge) {
    io.write(kubeconfigToYaml(doc));
    return;
  }
  const chain = kubeconfigChain({ explicitPath: flags.kubeconfig, env: io.env, homeDir: io.homeDir });
  const r = mergeKubeconfigChain(chain, doc, { setCurrentContext: true });
  io.write(r.added ? `Added new context ${r.contextName} to ${r.path}\n` : `Updated context ${r.contextName} in ${r.path}\n`);
}

/** Adds `skiff kubeconfig` to the program. */
export function registerKubeconfig(program: Command, io: KubeconfigIo = processIo): void {
  program
    .command("kubeconfig")
    .description("print the cluster's admin kubeconfig, or merge it into yours with --merge")
    .option("--data-dir <dir>", "the server's data directory", defaultDataDir())
    .option("--merge", "merge into $KUBECONFIG (or ~/.kube/config) and make it the current context")
    .option("--cluster-name <name>", "name of the cluster, user and context (default: as in kubeconfig.yaml, normally skiff)")
    .option("--server <url>", "API server URL to use instead of the one in kubeconfig.yaml, e.g. https://10.0.0.5:6443")
    .option("--kubeconfig <file>", "with --merge: merge into this file instead of $KUBECONFIG or ~/.kube/config")
    .action((flags: KubeconfigFlags) => runKubeconfig(flags, io));
}
