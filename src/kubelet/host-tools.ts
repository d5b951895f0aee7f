/**
 * The host programs a real node drives, and the Debian packages that
 * provide them: checked (and, as root, installed) before a node starts, as
 * the Quick start promises.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { HostTool } from "../machinery/debian-packages.js";

/** What a runc node needs, CNI plugins looked for in `cniBinDirs`. */
export function nodeHostTools(cniBinDirs: readonly string[]): HostTool[] {
  return [
    { command: "runc", debianPackage: "runc", neededFor: "running containers" },
    { command: "conmon", debianPackage: "conmon", neededFor: "watching containers" },
    { command: "ip", debianPackage: "iproute2", neededFor: "pod network namespaces" },
    { command: "iptables", debianPackage: "iptables", neededFor: "CNI masquerade and hostPort rules" },
    { command: "nft", debianPackage: "nftables", neededFor: "Service and NetworkPolicy rules" },
    { command: "conntrack", debianPackage: "conntrack", neededFor: "flushing UDP Service connections to removed endpoints" },
    { command: "nsenter", debianPackage: "util-linux", neededFor: "port-forward into pods" },
    {
      command: "CNI bridge plugin",
      debianPackage: "containernetworking-plugins",
      neededFor: "pod networking",
      present: () => cniBinDirs.some((d) => existsSync(join(d, "bridge"))),
    },
  ];
}
