/**
 * `skiff uninstall`: takes skiff back off this machine, as k3s'
 * `k3s-uninstall.sh` (with its killall) and `kubeadm reset` do. For one
 * data dir it removes the node's containers, its pod network, Service and
 * NetworkPolicy rules, cgroups and mounts, the context the server merged
 * into the user's kubeconfig, and then the data dir itself (cluster store,
 * certificates, registry, images) unless `--keep-data`.
 *
 * It refuses while a server or agent still runs on that data dir (stop it
 * first: pods keep running without their agent, so pulling the node away
 * underneath a live one would only make it rebuild what was removed). It
 * asks before deleting anything, as `kubeadm reset` does; `--force` skips
 * the question (needed when stdin is not a terminal).
 *
 * The node's host names (bridge, netns prefix, cgroup root, ranges) come
 * from `<data-dir>/agent/node-host.json`, written by the node at start;
 * `--kubelet-config`, `--cluster-cidr` and `--service-cidr` are only the
 * fallback for a node that ran before skiff recorded them.
 */
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { DEFAULT_KUBELET_CONFIG, loadKubeletConfig } from "../kubelet/config.js";
import { readNodeHostRecord } from "../kubelet/node-host-record.js";
import { consoleLogger, type Logger } from "../machinery/log.js";
import { defaultDataDir } from "./data-dir.js";
import { adminKubeconfigPath } from "./kubeconfig.js";
import { kubeconfigChain, readKubeconfig, unmergeKubeconfigChain } from "./kubeconfig-file.js";
import { type NodeHostNames, removeNodeFromHost } from "./node-cleanup.js";
import { runningAgentPid, runningServerPid } from "./server-lock.js";

/** Flags of `skiff uninstall`. */
export interface UninstallFlags {
  readonly dataDir: string;
  readonly force?: boolean;
  readonly keepData?: boolean;
  readonly kubeletConfig?: string;
  readonly clusterCidr: string;
  readonly serviceCidr: string;
  readonly kubeconfig?: string;
}

/** Where the command asks and reports (tests pass their own). */
export interface UninstallIo {
  readonly out: (text: string) => void;
  /** Asks a yes/no question; undefined when there is no terminal to ask on. */
  readonly confirm?: (question: string) => Promise<boolean>;
  readonly logger: Logger;
}

async function askOnTerminal(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N]: `)).trim());
  } finally {
    rl.close();
  }
}

const processIo = (): UninstallIo => ({
  out: (t) => void process.stdout.write(t),
  ...(process.stdin.isTTY ? { confirm: askOnTerminal } : {}),
  logger: consoleLogger(),
});

/** The node's names: as it recorded them, else from the flags (a node from before the record existed). */
function nodeNamesOf(flags: UninstallFlags): NodeHostNames | undefined {
  const record = readNodeHostRecord(flags.dataDir);
  if (record) return record;
  if (!existsSync(join(flags.dataDir, "agent"))) return undefined;
  const config = flags.kubeletConfig ? loadKubeletConfig(flags.kubeletConfig) : DEFAULT_KUBELET_CONFIG;
  return {
    bridgeName: config.network.bridgeName,
    netnsPrefix: config.network.netnsPrefix,
    cgroupRoot: config.cgroupRoot,
    cniBinDirs: config.network.cniBinDirs,
    clusterCidr: flags.clusterCidr,
    serviceCidr: flags.serviceCidr,
  };
}

/** Runs the uninstall; throws with what to do when it refuses, or with what was left behind. */
export async function runUninstall(flags: UninstallFlags, io: UninstallIo = processIo()): Promise<void> {
  const { dataDir } = flags;
  if (!existsSync(dataDir)) {
    io.out(`nothing to uninstall: ${dataDir} does not exist\n`);
    return;
  }
  const server = runningServerPid(dataDir);
  if (server) throw new Error(`skiff server (pid ${server}) is still running on ${dataDir}; stop it first (kill ${server}), then run skiff uninstall again`);
  const agent = runningAgentPid(dataDir);
  if (agent) throw new Error(`skiff agent (pid ${agent}) is still running on ${dataDir}; stop it first (kill ${agent}), then run skiff uninstall again`);

  const node = nodeNamesOf(flags);
  if (node && process.getuid?.() !== 0) throw new Error(`removing the node in ${dataDir} needs root (containers, network namespaces, rules, mounts, cgroups); run as root`);
  const what = [
    node ? `the node's containers, pod network (bridge ${node.bridgeName}), Service and NetworkPolicy rules, cgroups (${node.cgroupRoot}) and mounts` : undefined,
    "the skiff context in your kubeconfig",
    flags.keepData ? undefined : `${dataDir} (cluster store, certificates, registry, images)`,
  ].filter((w) => w !== undefined);
  if (!flags.force) {
    if (!io.confirm) throw new Error("skiff uninstall deletes the cluster on this machine; stdin is not a terminal to confirm on, so re-run with --force");
    if (!(await io.confirm(`This removes ${what.join("; ")}. Continue?`))) throw new Error("aborted: nothing was removed");
  }

  const errors: string[] = [];
  if (node) {
    errors.push(...(await removeNodeFromHost(dataDir, node, io.logger)));
    io.out(`removed the node's containers, network, rules, cgroups and mounts (bridge ${node.bridgeName})\n`);
  }
  const adminKubeconfig = adminKubeconfigPath(dataDir);
  if (existsSync(adminKubeconfig)) {
    try {
      const removed = unmergeKubeconfigChain(kubeconfigChain({ explicitPath: flags.kubeconfig, env: process.env }), readKubeconfig(adminKubeconfig));
      if (removed.length > 0) io.out(`removed from kubeconfig: ${removed.join(", ")}\n`);
    } catch (err) {
      errors.push(`kubeconfig: ${(err as Error).message}`);
    }
  }
  if (errors.length > 0) {
    // The data dir holds what a second run needs to find the rest: keep it.
    throw new Error(`uninstall left something behind (${dataDir} kept so a second run can retry): ${errors.join("; ")}`);
  }
  if (!flags.keepData) {
    rmSync(dataDir, { recursive: true, force: true });
    io.out(`removed ${dataDir}\n`);
  }
}

/** Registers `skiff uninstall`. */
export function registerUninstall(program: Command): void {
  program
    .command("uninstall")
    .description("Remove skiff from this machine: the node's containers, network, rules, cgroups and mounts, the merged kubeconfig context, and the data dir")
    .option("--data-dir <dir>", "the data dir of the server or agent to remove", defaultDataDir())
    .option("-f, --force", "do not ask for confirmation")
    .option("--keep-data", "keep the data dir (cluster store, certificates, registry, images); remove only what lives outside it")
    .option("--kubeconfig <file>", "the kubeconfig the server merged its context into (default: KUBECONFIG, else ~/.kube/config)")
    .option("--kubelet-config <file>", "the node's KubeletConfiguration, for a node that did not record its names (older skiff)")
    .option("--cluster-cidr <cidr>", "the cluster's pod range, for a node that did not record it", "10.42.0.0/16")
    .option("--service-cidr <cidr>", "the cluster's Service range, for a node that did not record it", "10.43.0.0/16")
    .action(async (flags: UninstallFlags) => {
      await runUninstall(flags);
    });
}
