/**
 * Reading a CNI 1.0.0 ADD result: the pod's IPs, IPv4 first. Anything
 * that does not look like a result is reported, not guessed at.
 */

/** The parts of a CNI result skiff uses. */
export interface CniResultIps {
  /** Addresses without prefix length, IPv4 first (the primary pod IP). */
  readonly ips: readonly string[];
}

/** The IPs of a CNI result, or an error message when `result` is not one. */
export function resultIps(result: unknown): CniResultIps | string {
  if (typeof result !== "object" || result === null) return "CNI result is not an object";
  const ipsField = (result as { ips?: unknown }).ips;
  if (!Array.isArray(ipsField)) return "CNI result has no ips";
  const v4: string[] = [];
  const v6: string[] = [];
  for (const entry of ipsField) {
    const address = (entry as { address?: unknown } | null)?.address;
    if (typeof address !== "string" || !address.includes("/")) return `CNI result has a malformed ips entry ${JSON.stringify(entry)}`;
    const ip = address.slice(0, address.indexOf("/"));
    (ip.includes(":") ? v6 : v4).push(ip);
  }
  if (v4.length + v6.length === 0) return "CNI result has no IP addresses";
  return { ips: [...v4, ...v6] };
}
