/**
 * Writes a sandbox's shared files (hostname, hosts, resolv.conf) into its
 * directory, from the PodSandboxConfig and the pod's IPs.
 */
import { readFileSync, writeFileSync } from "node:fs";
import type { PodSandboxConfig } from "../types.js";
import { hostNetworkHostsFile, podHostsFile, resolvConf } from "./etc-files.js";
import type { RuncPaths } from "./paths.js";

function readHostFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** Writes `hostname`, `hosts` and `resolv.conf` of sandbox `id`. */
export function writeSandboxFiles(paths: RuncPaths, id: string, config: PodSandboxConfig, hostname: string, ips: readonly string[]): void {
  writeFileSync(paths.sandboxFile(id, "hostname"), `${hostname}\n`, { mode: 0o644 });
  const hosts = config.hostNetwork ? hostNetworkHostsFile(readHostFile("/etc/hosts")) : podHostsFile(ips, hostname);
  writeFileSync(paths.sandboxFile(id, "hosts"), hosts, { mode: 0o644 });
  // Without a DNS config the pod resolves as the node does (containerd copies the host's file).
  const resolv = config.dnsConfig ? resolvConf(config.dnsConfig) : readHostFile("/etc/resolv.conf");
  writeFileSync(paths.sandboxFile(id, "resolv.conf"), resolv, { mode: 0o644 });
}
