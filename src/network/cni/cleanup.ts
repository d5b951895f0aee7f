/**
 * `skiff agent --cleanup` for the pod network (and what tests run last):
 * tears down every recorded sandbox, then removes what the node's network
 * left on the host — stray sandbox namespaces, the plugins' iptables
 * chains for this network, the pod bridge, the VXLAN device (with its
 * neighbours, forwarding entries and routes), host-local's reservations and,
 * once no other skiff node on the machine still serves the cluster CIDR,
 * the cluster-wide routes, the service bridge, its guard table and the
 * pod-to-pod no-masquerade rule.
 * Sysctls stay as they are (other software may rely on forwarding).
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { cidrContains, cidrContainsIp, formatCidr, ipToNumber, tryParseCidr } from "../../machinery/cidr.js";
import type { RuntimeResult } from "../../runtime/types.js";
import { fail, ok } from "../../runtime/types.js";
import { CniPodNetwork, type CniPodNetworkOptions } from "./cni-pod-network.js";
import { deleteLink, deleteRoute, listLinks, listRoutes } from "./host-net.js";
import { removeOwnedRules } from "./iptables-rules.js";
import { deleteNetns, listNetns } from "./netns.js";
import { deletePodToPodNoMasq } from "./node-routes.js";
import { deleteServiceGuard, guardTableName } from "./service-guard.js";
import { deleteVxlanDevice, vxlanDeviceName } from "./vxlan.js";

/** Options of {@link cleanupNodeNetwork}: the node's network options, plus what to keep. */
export interface CleanupNodeNetworkOptions extends CniPodNetworkOptions {
  /**
   * Keep the cluster-wide pieces (service route and bridge, guard table,
   * `unreachable` cluster route, routes to other nodes, the pod-to-pod
   * no-masquerade rule) even when no other skiff node on this machine
   * seems to use them. By default they go once no other link holds an
   * address in the cluster CIDR.
   */
  readonly keepClusterRoutes?: boolean;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Removes this node's pod network from the host; resolves with every error met (the rest is still done). */
export async function cleanupNodeNetwork(opts: CleanupNodeNetworkOptions): Promise<RuntimeResult<void>> {
  const net = new CniPodNetwork(opts);
  const o = net.options;
  const log = o.logger.with({ component: "cni-cleanup", network: o.networkName });
  const errors: string[] = [];
  for (const id of net.recordedSandboxes()) {
    const res = await net.tearDown(id);
    if (!res.ok) errors.push(res.error.message);
  }
  // Namespaces named like ours whose records are gone (ids are hex in skiff, which keeps another agent's longer prefix from matching).
  const ours = new RegExp(`^${escapeRegExp(o.netnsPrefix)}[0-9a-f]{12}$`);
  for (const name of listNetns().filter((n) => ours.test(n))) {
    log.info("removing a stray sandbox network namespace", { netns: name });
    const err = await deleteNetns(name);
    if (err !== undefined) errors.push(err);
  }
  errors.push(...(await removeOwnedRules(o.networkName, { pruneSharedPortmap: true })));
  const brErr = await deleteLink(o.bridgeName);
  if (brErr !== undefined) errors.push(brErr);
  // Before counting the cluster CIDR's users below: the device holds this node's VTEP address in it.
  const vxErr = await deleteVxlanDevice(vxlanDeviceName(o.bridgeName));
  if (vxErr !== undefined) errors.push(vxErr);
  rmSync(join(o.stateDir, "ipam"), { recursive: true, force: true });

  const users = (await listLinks()).filter((l) =>
    (l.addr_info ?? []).some((a) => {
      const n = a.family === "inet" ? ipToNumber(a.local) : undefined;
      return n !== undefined && cidrContainsIp(o.clusterCidr, n);
    }),
  );
  if (opts.keepClusterRoutes || users.length > 0) {
    if (users.length > 0) log.info("keeping the cluster routes: another node on this machine still uses them", { links: users.map((l) => l.ifname).join(",") });
  } else {
    for (const r of await listRoutes()) {
      const dst = tryParseCidr(r.dst);
      if (typeof dst === "string") continue;
      const dstText = formatCidr(dst);
      const isClusterUnreachable = r.type === "unreachable" && dstText === formatCidr(o.clusterCidr);
      const isNodeRoute = r.gateway !== undefined && cidrContains(o.clusterCidr, dst);
      const isServiceRoute = r.dev === o.serviceBridgeName && dstText === formatCidr(o.serviceCidr);
      if (!isClusterUnreachable && !isNodeRoute && !isServiceRoute) continue;
      const args = isClusterUnreachable ? ["unreachable", dstText] : isNodeRoute ? [dstText, "via", r.gateway!] : [dstText, "dev", r.dev!];
      const err = await deleteRoute(args);
      if (err !== undefined) errors.push(err);
    }
    const svcErr = await deleteLink(o.serviceBridgeName);
    if (svcErr !== undefined) errors.push(svcErr);
    const guardErr = await deleteServiceGuard(guardTableName(o.serviceBridgeName));
    if (guardErr !== undefined) errors.push(guardErr);
    const noMasqErr = await deletePodToPodNoMasq(formatCidr(o.clusterCidr));
    if (noMasqErr !== undefined) errors.push(noMasqErr);
  }
  if (errors.length > 0) return fail("Unknown", `pod network cleanup incomplete: ${errors.join("; ")}`);
  log.info("pod network removed from this node");
  return ok(undefined);
}
