/**
 * The per-pod files bind-mounted into every container of a sandbox:
 * /etc/hosts, /etc/resolv.conf and /etc/hostname, in the formats the
 * kubelet (hosts) and containerd (resolv.conf) write.
 */
import type { DnsConfig } from "../types.js";

const MANAGED_HOSTS_HEADER = "# Kubernetes-managed hosts file.\n";
const MANAGED_HOSTS_HEADER_HOST_NETWORK = "# Kubernetes-managed hosts file (host network).\n";

/**
 * The kubelet's managed /etc/hosts for a pod with its own network
 * (upstream `managedHostsFileContent`): localhost lines, then one
 * `<ip>\t<hostname>` line per pod IP.
 */
export function podHostsFile(ips: readonly string[], hostname: string): string {
  let s = MANAGED_HOSTS_HEADER;
  s += "127.0.0.1\tlocalhost\n";
  s += "::1\tlocalhost ip6-localhost ip6-loopback\n";
  s += "fe00::0\tip6-localnet\n";
  s += "fe00::0\tip6-mcastprefix\n";
  s += "fe00::1\tip6-allnodes\n";
  s += "fe00::2\tip6-allrouters\n";
  for (const ip of ips) s += `${ip}\t${hostname}\n`;
  return s;
}

/** A host-network pod sees the node's own /etc/hosts under the kubelet's header (upstream `nodeHostsFileContent`). */
export function hostNetworkHostsFile(nodeHosts: string): string {
  return MANAGED_HOSTS_HEADER_HOST_NETWORK + nodeHosts;
}

/** resolv.conf from the sandbox's DNS config: `search`, `nameserver` and `options` lines as containerd writes them. */
export function resolvConf(dns: DnsConfig): string {
  let s = "";
  if (dns.searches.length > 0) s += `search ${dns.searches.join(" ")}\n`;
  for (const server of dns.servers) s += `nameserver ${server}\n`;
  if (dns.options.length > 0) s += `options ${dns.options.join(" ")}\n`;
  return s;
}

/**
 * Checks a hostname as the kernel and DNS take it (RFC 1123 labels, at most
 * 64 bytes for sethostname); returns a problem or undefined.
 */
export function hostnameProblem(hostname: string): string | undefined {
  if (hostname.length === 0) return "hostname must not be empty";
  if (hostname.length > 64) return `hostname ${JSON.stringify(hostname)} is longer than 64 characters`;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i.test(hostname)) {
    return `hostname ${JSON.stringify(hostname)} must consist of alphanumeric characters, '-' or '.', and start and end with an alphanumeric character`;
  }
  return undefined;
}
