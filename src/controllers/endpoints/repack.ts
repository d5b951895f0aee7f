/**
 * The canonical layout of `Endpoints.subsets` (upstream's
 * `pkg/api/v1/endpoints.RepackSubsets`): one subset per distinct set of
 * addresses, carrying every port those addresses serve; an address not
 * ready on any port is not ready on all of them. Canonical form lets the
 * controller compare what it computed with what is stored.
 *
 * Upstream orders subsets and ports by an md5 of their Go dump; skiff
 * orders them by their content (ports by number, name, protocol). The
 * order is stable either way; only the sequence differs.
 */
import type { EndpointAddress, EndpointPort, EndpointSubset } from "kubernetes-types/core/v1.js";

/** Sentinel for subsets without ports (headless services without ports). */
const NO_PORT = "\u0000none";

function portKey(p: EndpointPort): string {
  return JSON.stringify([p.name ?? "", p.port, p.protocol ?? "", p.appProtocol ?? null]);
}

function addressKey(a: EndpointAddress): string {
  return `${a.ip}\u0000${a.targetRef?.uid ?? ""}`;
}

/** Upstream's `LessEndpointAddress`: by IP (bytewise), then targetRef uid (none first). */
export function compareAddresses(a: EndpointAddress, b: EndpointAddress): number {
  if (a.ip !== b.ip) return a.ip < b.ip ? -1 : 1;
  const au = a.targetRef ? (a.targetRef.uid ?? "") : undefined;
  const bu = b.targetRef ? (b.targetRef.uid ?? "") : undefined;
  if (au === bu) return 0;
  if (au === undefined) return -1;
  if (bu === undefined) return 1;
  return au < bu ? -1 : 1;
}

function comparePorts(a: EndpointPort, b: EndpointPort): number {
  if (a.port !== b.port) return a.port - b.port;
  const ak = portKey(a);
  const bk = portKey(b);
  return ak < bk ? -1 : ak > bk ? 1 : 0;
}

function subsetKey(s: EndpointSubset): string {
  const ports = (s.ports ?? []).map(portKey).join(",");
  const addrs = [...(s.addresses ?? []).map((a) => `r${addressKey(a)}`), ...(s.notReadyAddresses ?? []).map((a) => `n${addressKey(a)}`)].join(",");
  return `${ports}|${addrs}`;
}

/** Sorts addresses, ports and subsets in place into their canonical order; returns `subsets`. */
export function sortSubsets(subsets: EndpointSubset[]): EndpointSubset[] {
  for (const s of subsets) {
    s.addresses?.sort(compareAddresses);
    s.notReadyAddresses?.sort(compareAddresses);
    s.ports?.sort(comparePorts);
  }
  subsets.sort((a, b) => {
    const ak = subsetKey(a);
    const bk = subsetKey(b);
    return ak < bk ? -1 : ak > bk ? 1 : 0;
  });
  return subsets;
}

/**
 * Expands `subsets` to (address, port, ready) triples, de-duplicating
 * addresses by IP and target uid, and packs them back into the canonical
 * layout. Returns new subsets; the input is not modified.
 */
export function repackSubsets(subsets: readonly EndpointSubset[]): EndpointSubset[] {
  const allAddrs = new Map<string, EndpointAddress>();
  // port key -> (address key -> ready); insertion order kept for stable output.
  const portToAddrReady = new Map<string, { port: EndpointPort | undefined; addrs: Map<string, boolean> }>();

  const mapAddress = (addr: EndpointAddress, port: EndpointPort | undefined, ready: boolean) => {
    const ak = addressKey(addr);
    if (!allAddrs.has(ak)) allAddrs.set(ak, addr);
    const pk = port ? portKey(port) : NO_PORT;
    let entry = portToAddrReady.get(pk);
    if (!entry) portToAddrReady.set(pk, (entry = { port, addrs: new Map() }));
    // Not ready on one port means not ready: never overwrite a false.
    const was = entry.addrs.get(ak);
    if (was === undefined || was) entry.addrs.set(ak, ready);
  };

  for (const s of subsets) {
    const ports = s.ports ?? [];
    const targets: (EndpointPort | undefined)[] = ports.length === 0 ? [undefined] : ports;
    for (const port of targets) {
      for (const a of s.addresses ?? []) mapAddress(a, port, true);
      for (const a of s.notReadyAddresses ?? []) mapAddress(a, port, false);
    }
  }

  // Group ports by the exact set of (address, ready) they are served on.
  const groups = new Map<string, { addrs: Map<string, boolean>; ports: EndpointPort[] }>();
  for (const { port, addrs } of portToAddrReady.values()) {
    const key = [...addrs.entries()]
      .map(([k, ready]) => `${k}\u0000${ready}`)
      .sort()
      .join("\u0001");
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { addrs, ports: [] }));
    if (port) g.ports.push(port);
  }

  const out: EndpointSubset[] = [];
  for (const g of groups.values()) {
    const ready: EndpointAddress[] = [];
    const notReady: EndpointAddress[] = [];
    for (const [k, r] of g.addrs) (r ? ready : notReady).push(allAddrs.get(k)!);
    const subset: EndpointSubset = {};
    if (ready.length > 0) subset.addresses = ready;
    if (notReady.length > 0) subset.notReadyAddresses = notReady;
    if (g.ports.length > 0) subset.ports = g.ports;
    out.push(subset);
  }
  return sortSubsets(out);
}
