/**
 * Upstream's probe.ResolveContainerPort: a probe's or hook's port is a
 * number, a named port of the container, or (a last resort upstream keeps)
 * a number written as a string.
 */
import type { Container } from "kubernetes-types/core/v1.js";

/** The port, or upstream's error text. */
export type PortResult = { readonly ok: true; readonly port: number } | { readonly ok: false; readonly error: string };

/** Go's strconv.Atoi: an optional sign and decimal digits, nothing else. */
function atoi(s: string): number | undefined {
  return /^[+-]?\d+$/.test(s) ? Number(s) : undefined;
}

/** Resolves `port` against `container`'s ports, as upstream. */
export function resolveContainerPort(port: number | string | undefined, container: Container): PortResult {
  let n: number;
  if (typeof port === "number") n = port;
  else if (typeof port === "string") {
    const named = (container.ports ?? []).find((p) => p.name === port);
    if (named) n = named.containerPort;
    else {
      const parsed = atoi(port);
      if (parsed === undefined) return { ok: false, error: `strconv.Atoi: parsing ${JSON.stringify(port)}: invalid syntax` };
      n = parsed;
    }
  } else return { ok: false, error: `intOrString had no kind: ${String(port)}` };
  if (Number.isInteger(n) && n > 0 && n < 65536) return { ok: true, port: n };
  return { ok: false, error: `invalid port number: ${n}` };
}

/** Go's net.JoinHostPort: IPv6 literals in brackets. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
