/**
 * Taking a stopped node off its host, shared by `skiff agent --cleanup`
 * (the network only: the node may start again) and `skiff uninstall`
 * (everything, see {@link removeNodeFromHost}).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../machinery/log.js";
import { cleanupNodeNetwork } from "../network/cni/cleanup.js";
import { cleanupNetworkPolicyTable } from "../network/policy/enforcer.js";
import { cleanupServiceProxy } from "../network/proxy/cleanup.js";
import { removeCgroupTree } from "../runtime/runc/cgroups.js";
import { unmountAllUnder } from "../runtime/runc/mounts.js";
import { runCommand } from "../runtime/runc/run-command.js";
import type { NodeHostRecord } from "../kubelet/node-host-record.js";

/** The node's host-level names (what {@link NodeHostRecord} records, minus the node name). */
export type NodeHostNames = Omit<NodeHostRecord, "nodeName">;

/**
 * Removes the node's pod network (sandboxes, namespaces, bridge, VXLAN,
 * routes, the plugins' rules) and the service proxy's and policy
 * enforcer's tables; resolves with every error met (the rest is still done).
 */
export async function cleanupNodeNetworking(dataDir: string, names: NodeHostNames, logger: Logger): Promise<string[]> {
  const r = await cleanupNodeNetwork({
    stateDir: join(dataDir, "agent", "cni"),
    binDirs: names.cniBinDirs,
    bridgeName: names.bridgeName,
    netnsPrefix: names.netnsPrefix,
    clusterCidr: names.clusterCidr,
    serviceCidr: names.serviceCidr,
    logger,
  });
  const tableErrors = [await cleanupServiceProxy(names.bridgeName), await cleanupNetworkPolicyTable(names.bridgeName)];
  return [...(r.ok ? [] : [r.error.message]), ...tableErrors.filter((e) => e !== undefined)];
}

/** The node's runc state directory (containers outlive their agent by design: it adopts them on restart). */
function runcRoot(dataDir: string): string {
  return join(dataDir, "agent", "runtime", "runc");
}

/** Stops and deletes every container the node's runc knows; resolves with the ids removed and the errors met. */
export async function removeNodeContainers(dataDir: string): Promise<{ removed: string[]; errors: string[] }> {
  const root = runcRoot(dataDir);
  if (!existsSync(root)) return { removed: [], errors: [] };
  const list = await runCommand("runc", ["--root", root, "list", "-q"]);
  if (list.code !== 0) return { removed: [], errors: [`runc list: ${list.stderr.trim() || `exit ${list.code}`}`] };
  const removed: string[] = [];
  const errors: string[] = [];
  for (const id of list.stdout.split("\n").filter((l) => l !== "")) {
    const del = await runCommand("runc", ["--root", root, "delete", "--force", id]);
    if (del.code === 0) removed.push(id);
    else errors.push(`runc delete ${id}: ${del.stderr.trim() || `exit ${del.code}`}`);
  }
  return { removed, errors };
}

/**
 * Everything a real node left on the host, for `skiff uninstall`: its
 * containers (killed), its network and rules, its cgroups and every mount
 * under the data dir. The data dir itself stays (the caller decides).
 * Resolves with every error met; the rest is still done.
 */
export async function removeNodeFromHost(dataDir: string, names: NodeHostNames, logger: Logger): Promise<string[]> {
  const errors: string[] = [];
  const containers = await removeNodeContainers(dataDir);
  if (containers.removed.length > 0) logger.info("removed containers", { count: containers.removed.length });
  errors.push(...containers.errors);
  errors.push(...(await cleanupNodeNetworking(dataDir, names, logger)));
  const cgroupErr = removeCgroupTree(names.cgroupRoot);
  if (cgroupErr) errors.push(cgroupErr);
  const mounts = await unmountAllUnder(dataDir);
  if (!mounts.ok) errors.push(mounts.error.message);
  return errors;
}
