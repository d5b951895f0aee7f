/**
 * The kubelet-managed /etc/hosts of a pod (upstream kubelet_pods.go
 * makeHostsMount, managedHostsFileContent, nodeHostsFileContent): the
 * loopback names, the pod's own name for each pod IP, and hostAliases;
 * host-network pods get the node's /etc/hosts plus hostAliases.
 */
import type { HostAlias, Pod } from "kubernetes-types/core/v1.js";
import { readFile, writeFile } from "node:fs/promises";

const MANAGED_HEADER = "# Kubernetes-managed hosts file.\n";
const MANAGED_HEADER_HOST_NETWORK = "# Kubernetes-managed hosts file (host network).\n";

/** upstream hostsEntriesFromHostAliases. */
function hostAliasesEntries(aliases: readonly HostAlias[] | undefined): string {
  if (!aliases || aliases.length === 0) return "";
  let out = "\n# Entries added by HostAliases.\n";
  for (const a of aliases) out += `${a.ip}\t${(a.hostnames ?? []).join("\t")}\n`;
  return out;
}

/** upstream managedHostsFileContent. */
export function managedHostsFileContent(podIPs: readonly string[], hostName: string, hostDomain: string, aliases: readonly HostAlias[] | undefined): string {
  let out = MANAGED_HEADER;
  out += "127.0.0.1\tlocalhost\n";
  out += "::1\tlocalhost ip6-localhost ip6-loopback\n";
  out += "fe00::0\tip6-localnet\n";
  out += "fe00::0\tip6-mcastprefix\n";
  out += "fe00::1\tip6-allnodes\n";
  out += "fe00::2\tip6-allrouters\n";
  for (const ip of podIPs) out += hostDomain ? `${ip}\t${hostName}.${hostDomain}\t${hostName}\n` : `${ip}\t${hostName}\n`;
  return out + hostAliasesEntries(aliases);
}

/** upstream truncatePodHostnameIfNeeded: 63 characters at most, no trailing `-` or `.`. */
function truncateHostname(name: string): string {
  if (name.length <= 63) return name;
  return name.slice(0, 63).replace(/[-.]+$/, "");
}

/** upstream GeneratePodHostNameAndDomain (validation is the API server's). */
export function podHostnameAndDomain(pod: Pod, clusterDomain: string): { hostname: string; domain: string } {
  const hostname = truncateHostname(pod.spec?.hostname || pod.metadata?.name || "");
  const sub = pod.spec?.subdomain;
  return { hostname, domain: sub ? `${sub}.${pod.metadata?.namespace ?? ""}.svc.${clusterDomain}` : "" };
}

/**
 * Writes the hosts file at `path` for `pod`, in place (containers bind the
 * file, so it keeps its inode), only when its content changes.
 */
export async function ensureHostsFile(path: string, pod: Pod, podIPs: readonly string[], clusterDomain: string, nodeHostsFile = "/etc/hosts"): Promise<void> {
  let content: string;
  if (pod.spec?.hostNetwork) {
    let node = "";
    try {
      node = await readFile(nodeHostsFile, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    content = MANAGED_HEADER_HOST_NETWORK + node + hostAliasesEntries(pod.spec.hostAliases);
  } else {
    const { hostname, domain } = podHostnameAndDomain(pod, clusterDomain);
    content = managedHostsFileContent(podIPs, hostname, domain, pod.spec?.hostAliases);
  }
  let current: string | undefined;
  try {
    current = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  if (current !== content) await writeFile(path, content, { mode: 0o644 });
}
