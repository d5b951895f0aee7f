/**
 * The ingress controller's view of its backends: a Service port resolved to
 * the ready endpoints of the Service's EndpointSlices (pod IP + the slice's
 * port of the same name), each endpoint with its own keep-alive
 * pool of keep-alive connections, picked round robin.
 *
 * Pools are resolved on first use and re-resolved as soon as the Service
 * or one of its slices changes. An endpoint that leaves every pool is
 * retired: no new request goes to it, requests already on it finish, its
 * idle connections close at once and busy ones once their request is
 * done, so an endpoint change never drops an in-flight request.
 */
import { connect, type Socket } from "node:net";
import type { Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";

/** The label tying an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

/** `ip:port` (`[ip6]:port`). */
export function upstreamKey(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Idle connections kept per endpoint (ingress-nginx's upstream-keepalive-connections: 320). */
export const MAX_IDLE_CONNECTIONS = 320;
/** How long a connection may sit idle (ingress-nginx's upstream-keepalive-timeout: 60 s). */
export const IDLE_TIMEOUT_MS = 60_000;

const owner = Symbol("skiff-ingress-upstream");
type PooledSocket = Socket & { [owner]?: Upstream };

function idleGone(this: PooledSocket): void {
  this[owner]?.forget(this);
  this.destroy();
}

/**
 * One backend address (pod IP and port) and its keep-alive connections
 * (LIFO, so the warmest is reused and the rest time out).
 */
export class Upstream {
  readonly #idle: PooledSocket[] = [];
  /** Requests on this endpoint now. */
  inflight = 0;
  retired = false;

  constructor(
    readonly host: string,
    readonly port: number,
  ) {}

  /** An idle connection (`reused`), else a new one (connecting). */
  acquire(): { socket: Socket; reused: boolean } {
    for (;;) {
      const s = this.#idle.pop();
      if (s === undefined) break;
      s.off("close", idleGone);
      s.off("error", idleGone);
      s.off("timeout", idleGone);
      s.setTimeout(0);
      if (!s.destroyed && s.readyState === "open") return { socket: s, reused: true };
      s.destroy();
    }
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    return { socket, reused: false };
  }

  /** Hands a connection back after a complete exchange; `reusable` false (or a retired endpoint) closes it. */
  release(socket: Socket, reusable: boolean): void {
    if (!reusable || this.retired || socket.destroyed || this.#idle.length >= MAX_IDLE_CONNECTIONS) {
      socket.destroy();
      return;
    }
    const s = socket as PooledSocket;
    // Flowing, so a close by the endpoint is seen while the connection is idle.
    if (s.isPaused()) s.resume();
    s[owner] = this;
    s.on("close", idleGone);
    s.on("error", idleGone);
    s.on("timeout", idleGone);
    s.setTimeout(IDLE_TIMEOUT_MS);
    this.#idle.push(s);
  }

  /** Drops an idle connection that closed. */
  forget(socket: Socket): void {
    const i = this.#idle.indexOf(socket as PooledSocket);
    if (i >= 0) this.#idle.splice(i, 1);
  }

  /** Idle connections now (tests). */
  get idle(): number {
    return this.#idle.length;
  }

  /** Marks the start of a request. */
  begin(): void {
    this.inflight++;
  }

  /** Marks the end of a request. */
  end(): void {
    this.inflight--;
  }

  /** No new requests; idle connections close now, busy ones when their request is done. */
  retire(): void {
    this.retired = true;
    for (const s of this.#idle.splice(0)) s.destroy();
  }

  get key(): string {
    return upstreamKey(this.host, this.port);
  }
}

/** A resolved Service port: its ready endpoints, or why there are none. */
export interface Pool {
  readonly upstreams: readonly Upstream[];
  /** Why `upstreams` is empty (the 503 body). */
  readonly error?: string;
  /** Round-robin cursor. */
  next: number;
}

/** What pools are resolved from (informer caches). */
export interface BackendSource {
  service(namespace: string, name: string): Service | undefined;
  slices(namespace: string, service: string): readonly EndpointSlice[];
}

/** Service ports resolved to endpoints, kept current by {@link Backends.serviceChanged}. */
export class Backends {
  readonly #pools = new Map<string, Pool>();
  /** Pool keys by `ns/service`. */
  readonly #byService = new Map<string, Set<string>>();
  readonly #upstreams = new Map<string, Upstream>();

  constructor(private readonly source: BackendSource) {}

  /** The pool of `ns/service:port` (port by number or name). */
  pool(namespace: string, service: string, port: number | string): Pool {
    const key = `${namespace}/${service}:${port}`;
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      pool = this.#resolve(namespace, service, port);
      this.#pools.set(key, pool);
      const svcKey = `${namespace}/${service}`;
      let keys = this.#byService.get(svcKey);
      if (keys === undefined) this.#byService.set(svcKey, (keys = new Set()));
      keys.add(key);
    }
    return pool;
  }

  /** The Service `ns/name` or one of its EndpointSlices changed: re-resolves its pools and retires endpoints no pool uses. */
  serviceChanged(namespace: string, service: string): void {
    const keys = this.#byService.get(`${namespace}/${service}`);
    if (keys === undefined) return;
    for (const key of keys) {
      const port = key.slice(key.lastIndexOf(":") + 1);
      const old = this.#pools.get(key);
      const fresh = this.#resolve(namespace, service, /^\d+$/.test(port) ? Number(port) : port);
      // Keep the cursor so a change does not send the next requests to the same endpoint again.
      if (old !== undefined) fresh.next = old.next;
      this.#pools.set(key, fresh);
    }
    this.#collect();
  }

  /** Forgets every pool and closes every connection (stop). */
  close(): void {
    this.#pools.clear();
    this.#byService.clear();
    for (const u of this.#upstreams.values()) u.retire();
    this.#upstreams.clear();
  }

  /** Endpoints in use now (tests, diagnostics). */
  upstreamKeys(): string[] {
    return [...this.#upstreams.keys()];
  }

  #collect(): void {
    const used = new Set<Upstream>();
    for (const p of this.#pools.values()) for (const u of p.upstreams) used.add(u);
    for (const [key, u] of this.#upstreams) {
      if (used.has(u)) continue;
      this.#upstreams.delete(key);
      u.retire();
    }
  }

  #upstream(host: string, port: number): Upstream {
    const key = upstreamKey(host, port);
    let u = this.#upstreams.get(key);
    if (u === undefined) this.#upstreams.set(key, (u = new Upstream(host, port)));
    return u;
  }

  #resolve(namespace: string, service: string, port: number | string): Pool {
    const what = `${namespace}/${service}:${port}`;
    const svc = this.source.service(namespace, service);
    if (svc === undefined) return { upstreams: [], error: `service ${namespace}/${service} not found`, next: 0 };
    if (svc.spec?.type === "ExternalName") {
      return { upstreams: [], error: `service ${namespace}/${service} is of type ExternalName, which skiff's ingress controller does not proxy to`, next: 0 };
    }
    const sp = svc.spec?.ports?.find((p) => (typeof port === "number" ? p.port === port : p.name === port));
    if (sp === undefined) return { upstreams: [], error: `service ${namespace}/${service} has no port ${port}`, next: 0 };
    const portName = sp.name ?? "";
    const upstreams: Upstream[] = [];
    const seen = new Set<string>();
    for (const slice of this.source.slices(namespace, service)) {
      if (slice.addressType === "FQDN") continue;
      const slicePort = slice.ports?.find((p) => (p.name ?? "") === portName && (p.protocol ?? "TCP") === "TCP");
      if (slicePort?.port === undefined || slicePort.port === null) continue;
      for (const ep of slice.endpoints ?? []) {
        // Upstream: a nil ready condition means ready; terminating endpoints take no new connections.
        if (ep.conditions?.ready === false) continue;
        const addr = ep.addresses?.[0];
        if (!addr) continue;
        const u = this.#upstream(addr, slicePort.port);
        if (seen.has(u.key)) continue;
        seen.add(u.key);
        upstreams.push(u);
      }
    }
    // A stable order, so round robin visits each endpoint in turn across re-resolves.
    upstreams.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return upstreams.length === 0 ? { upstreams, error: `no ready endpoints for service ${what}`, next: 0 } : { upstreams, next: 0 };
  }
}
