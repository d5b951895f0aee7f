/**
 * The agent's view of "the API server" when a cluster has several, as k3s'
 * agent load balancer is: a TCP proxy on the loopback that the node's
 * clients talk to, forwarding each connection to one live server. TLS passes
 * through untouched (every server's certificate names 127.0.0.1), so
 * clients keep verifying the cluster CA end to end.
 *
 * - Servers: the `--server` the agent joined through, then the addresses of
 *   the `kubernetes` endpoints (every live API server), refreshed by the
 *   agent; the list is kept in `<data-dir>/agent/server-list.json`, so a
 *   restarted agent finds a server even when the first one is gone.
 * - Health: every server is dialled every few seconds (TCP connect with a
 *   2 s timeout). The balancer sticks to one healthy server; when it fails
 *   a check, or a new connection to it fails, the balancer moves to the
 *   next healthy one and closes the connections still open to the old one,
 *   so watches and the Lease renewals resume on the new server at once.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import type { Endpoints } from "kubernetes-types/core/v1.js";
import type { RestClient } from "../client/rest-client.js";
import { writeFileAtomic } from "../machinery/atomic-file.js";
import type { Logger } from "../machinery/log.js";

/** Options of {@link startServerBalancer}. */
export interface ServerBalancerOptions {
  /** `https://HOST:PORT` URLs, the preferred one first. */
  readonly servers: readonly string[];
  /** Where the list is kept across restarts. */
  readonly stateFile: string;
  readonly logger: Logger;
  /** How often each server is dialled; 5 s by default. */
  readonly healthIntervalMs?: number;
  /** Loopback port to listen on; 0 (any free port) by default. */
  readonly port?: number;
}

/** A running balancer. */
export interface ServerBalancer {
  /** What the node's clients use: `https://127.0.0.1:PORT`. */
  readonly url: string;
  /** The server connections go to now. */
  active(): string;
  /** Every known server. */
  servers(): readonly string[];
  /** Replaces the list (kept on disk); the active server stays while it is in it and healthy. */
  setServers(urls: readonly string[]): void;
  stop(): Promise<void>;
}

interface Target {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  healthy: boolean;
}

const DIAL_TIMEOUT_MS = 2000;

function target(url: string): Target {
  const u = new URL(url);
  return { url: u.origin, host: u.hostname.replace(/^\[|\]$/g, ""), port: Number(u.port || 443), healthy: true };
}

/** The kept list, if any. */
export function readServerList(stateFile: string): string[] {
  if (!existsSync(stateFile)) return [];
  try {
    const v = JSON.parse(readFileSync(stateFile, "utf8")) as { servers?: unknown };
    return Array.isArray(v.servers) ? v.servers.filter((s): s is string => typeof s === "string") : [];
  } catch {
    return [];
  }
}

function dial(t: Target): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: t.host, port: t.port, timeout: DIAL_TIMEOUT_MS });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once("connect", () => done(true));
    s.once("timeout", () => done(false));
    s.once("error", () => done(false));
  });
}

/** Starts the balancer on the loopback. */
export async function startServerBalancer(o: ServerBalancerOptions): Promise<ServerBalancer> {
  const log = o.logger.with({ component: "server-balancer" });
  let targets = uniq([...o.servers, ...readServerList(o.stateFile)]).map(target);
  if (targets.length === 0) throw new Error("no API server to connect to");
  let current = targets[0]!;
  const open = new Map<Socket, Target>();

  const persist = () => {
    mkdirSync(dirname(o.stateFile), { recursive: true, mode: 0o700 });
    writeFileAtomic(o.stateFile, `${JSON.stringify({ servers: targets.map((t) => t.url) }, null, 2)}\n`, { mode: 0o600 });
  };

  /** Moves to the next healthy server after `from`; closes what is still open to `from`. */
  const failOver = (from: Target, why: string) => {
    from.healthy = false;
    if (current !== from) return;
    const start = targets.indexOf(from);
    const next = [...targets.slice(start + 1), ...targets.slice(0, start)].find((t) => t.healthy);
    if (!next) {
      log.warn("no healthy API server; still trying them all", { failed: from.url, why });
      return;
    }
    log.info("switching API server", { from: from.url, to: next.url, why });
    current = next;
    for (const [sock, t] of open) if (t === from) sock.destroy();
  };

  const proxy: Server = createServer((client) => {
    client.pause();
    let upstream: Socket | undefined;
    client.on("error", () => upstream?.destroy());
    client.once("close", () => {
      open.delete(client);
      upstream?.destroy();
    });
    const tryTarget = (t: Target, left: number) => {
      const u = connect({ host: t.host, port: t.port, timeout: DIAL_TIMEOUT_MS });
      u.once("connect", () => {
        if (client.destroyed) {
          u.destroy();
          return;
        }
        upstream = u;
        u.setTimeout(0);
        open.set(client, t);
        u.on("error", () => client.destroy());
        u.once("close", () => client.destroy());
        client.pipe(u).pipe(client);
        client.resume();
      });
      const fail = (why: string) => {
        if (upstream === u) return;
        u.destroy();
        failOver(t, why);
        if (left > 0 && current !== t && current.healthy && !client.destroyed) tryTarget(current, left - 1);
        else client.destroy();
      };
      u.once("timeout", () => fail("connect timed out"));
      u.once("error", (err) => fail(err.message));
    };
    tryTarget(current, targets.length);
  });
  await new Promise<void>((resolve, reject) => {
    proxy.once("error", reject);
    proxy.listen(o.port ?? 0, "127.0.0.1", () => resolve());
  });
  const address = proxy.address();
  const port = typeof address === "object" && address ? address.port : 0;

  let checking = false;
  const check = async () => {
    if (checking) return;
    checking = true;
    try {
      await Promise.all(
        targets.map(async (t) => {
          const was = t.healthy;
          t.healthy = await dial(t);
          if (was && !t.healthy) failOver(t, "health check failed");
          else if (!was && t.healthy) log.info("API server reachable again", { server: t.url });
        }),
      );
      // With nothing healthy, retry from the preferred one.
      if (!current.healthy) current = targets.find((t) => t.healthy) ?? current;
    } finally {
      checking = false;
    }
  };
  const timer = setInterval(() => void check(), o.healthIntervalMs ?? 5000);
  timer.unref();
  persist();
  log.info("API server load balancer listening", { url: `https://127.0.0.1:${port}`, servers: targets.map((t) => t.url).join(","), active: current.url });

  return {
    url: `https://127.0.0.1:${port}`,
    active: () => current.url,
    servers: () => targets.map((t) => t.url),
    setServers(urls) {
      const next = uniq(urls.map((u) => target(u).url));
      if (next.length === 0 || next.join(",") === targets.map((t) => t.url).join(",")) return;
      const byUrl = new Map(targets.map((t) => [t.url, t]));
      targets = next.map((u) => byUrl.get(u) ?? target(u));
      if (!targets.includes(current)) current = targets.find((t) => t.healthy) ?? targets[0]!;
      persist();
      log.info("API servers updated", { servers: next.join(","), active: current.url });
    },
    async stop() {
      clearInterval(timer);
      for (const sock of open.keys()) sock.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}

function uniq(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/**
 * Keeps the balancer's list equal to the live API servers: every `intervalMs`
 * the `default/kubernetes` Endpoints (one address per live server, all on
 * one port) become the list, `fallback` (the `--server` joined through)
 * last when it is not among them. Returns the stop function.
 */
export function followApiServerEndpoints(balancer: ServerBalancer, rest: RestClient, fallback: string, log: Logger, intervalMs = 15_000): () => void {
  const refresh = async () => {
    try {
      const ep = await rest.request<Endpoints>("GET", "/api/v1/namespaces/default/endpoints/kubernetes");
      const urls = (ep.subsets ?? []).flatMap((s) => {
        const port = s.ports?.find((p) => p.name === "https")?.port ?? s.ports?.[0]?.port;
        return port ? (s.addresses ?? []).map((a) => `https://${a.ip.includes(":") ? `[${a.ip}]` : a.ip}:${port}`) : [];
      });
      if (urls.length > 0) balancer.setServers([...urls, fallback]);
    } catch (err) {
      log.debug("cannot read the kubernetes endpoints", { err: (err as Error).message });
    }
  };
  void refresh();
  const timer = setInterval(() => void refresh(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
