/**
 * framework.HostPortInfo: the host ports in use on a node, by host IP, with
 * upstream's wildcard rule — 0.0.0.0 (or an empty hostIP) conflicts with the
 * same protocol/port on every IP, and a specific IP conflicts with itself and
 * with 0.0.0.0.
 */
import type { Pod } from "kubernetes-types/core/v1.js";

export const DefaultBindAllHostIP = "0.0.0.0";

function protocolPort(protocol: string, port: number): string {
  return `${protocol === "" ? "TCP" : protocol}/${port}`;
}

export class HostPortInfo {
  /** hostIP → set of "PROTOCOL/port". */
  private readonly byIP = new Map<string, Set<string>>();

  add(ip: string, protocol: string, port: number): void {
    if (port <= 0) return;
    const key = ip === "" ? DefaultBindAllHostIP : ip;
    let set = this.byIP.get(key);
    if (!set) this.byIP.set(key, (set = new Set()));
    set.add(protocolPort(protocol, port));
  }

  remove(ip: string, protocol: string, port: number): void {
    if (port <= 0) return;
    const key = ip === "" ? DefaultBindAllHostIP : ip;
    const set = this.byIP.get(key);
    if (!set) return;
    set.delete(protocolPort(protocol, port));
    if (set.size === 0) this.byIP.delete(key);
  }

  /** The number of (ip, protocol, port) entries. */
  len(): number {
    let n = 0;
    for (const s of this.byIP.values()) n += s.size;
    return n;
  }

  /** CheckConflict: whether (ip, protocol, port) collides with a port in use. */
  checkConflict(ip: string, protocol: string, port: number): boolean {
    if (port <= 0) return false;
    const key = ip === "" ? DefaultBindAllHostIP : ip;
    const pp = protocolPort(protocol, port);
    if (key === DefaultBindAllHostIP) {
      for (const s of this.byIP.values()) if (s.has(pp)) return true;
      return false;
    }
    return !!this.byIP.get(DefaultBindAllHostIP)?.has(pp) || !!this.byIP.get(key)?.has(pp);
  }

  clone(): HostPortInfo {
    const c = new HostPortInfo();
    for (const [ip, s] of this.byIP) c.byIP.set(ip, new Set(s));
    return c;
  }

  /** Entries as "ip PROTOCOL/port", sorted; for tests and dumps. */
  entries(): string[] {
    const out: string[] = [];
    for (const [ip, s] of this.byIP) for (const pp of s) out.push(`${ip} ${pp}`);
    return out.sort();
  }
}

/** The host ports a pod's (regular) containers ask for. */
export function podHostPorts(pod: Pod): { hostIP: string; protocol: string; hostPort: number }[] {
  const out: { hostIP: string; protocol: string; hostPort: number }[] = [];
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      out.push({ hostIP: p.hostIP ?? "", protocol: p.protocol ?? "", hostPort: p.hostPort ?? 0 });
    }
  }
  return out;
}
