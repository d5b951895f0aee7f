/**
 * The API server's requests that end at a kubelet, as upstream's pod and
 * node REST storage serves them:
 * - `GET pods/{name}/log` → `/containerLogs/{ns}/{pod}/{container}` (the
 *   log streamed through as text/plain, follow included);
 * - `pods/{name}/exec|attach|portforward` (upgrade requests) →
 *   `/exec|attach/{ns}/{pod}/{container}` and `/portForward/{ns}/{pod}`,
 *   piped once the kubelet switches protocols;
 * - `nodes/{name}/proxy/{path}` (any method, upgrades too) → the kubelet's
 *   `/{path}`, or another port on the node with `name:port`.
 * Authentication and authorization happened before (as `pods/log`,
 * `nodes/proxy`, …); the kubelet checks the API server's own client
 * certificate again.
 */
import { lookup } from "node:dns/promises";
import { Agent as HttpAgent, type IncomingMessage, type ServerResponse } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { isIP } from "node:net";
import type { Duplex } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Logger } from "../../machinery/log.js";
import { badRequest, invalid, methodNotSupported, StatusError } from "../../machinery/status-error.js";
import type { UserInfo } from "../auth/authn.js";
import type { ObjectStore } from "../registry/object-store.js";
import type { RequestInfo } from "../request-info.js";
import { BackendError, forwardHeaders, readLimited, responseHeaders, sendRequest } from "./backend.js";
import { KubeletConnections, type KubeletClientConfig, unknownError } from "./connection.js";
import { chooseContainer } from "./container-choice.js";
import { decodePodLogOptions, kubeletLogQuery, LogOptionsDecodeError, type PodLogOptions, validatePodLogOptions } from "./pod-log-options.js";
import { kubeletResponseError } from "./response-errors.js";
import { proxyUpgrade } from "./upgrade-proxy.js";
import { isUpgradeRequest } from "./upgrade-request.js";

/** One request routed here. */
export interface KubeletProxyRequest {
  readonly info: RequestInfo;
  readonly url: URL;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly user: UserInfo;
}

/** What a {@link KubeletProxy} needs. */
export interface KubeletProxyOptions {
  readonly pods: ObjectStore;
  readonly nodes: ObjectStore;
  readonly client?: KubeletClientConfig;
  readonly logger: Logger;
}

const POD_STREAMS = new Set(["exec", "attach", "portforward"]);
const LONG_RUNNING = /^\/(?:api\/[^/]+|apis\/[^/]+\/[^/]+)\/(?:namespaces\/[^/]+\/)?[^/]+\/[^/]+\/(?:attach|exec|proxy|log|portforward)(?:\/|$)/;

/** Go's net.IP.IsGlobalUnicast for an address literal (upstream's isProxyableIP). */
export function isGlobalUnicast(ip: string): boolean {
  const v = isIP(ip);
  if (v === 4) {
    const [a, b] = ip.split(".").map(Number) as [number, number];
    if (ip === "255.255.255.255" || a === 0 || a === 127 || a >= 224) return false;
    return !(a === 169 && b === 254);
  }
  if (v === 6) {
    const low = ip.toLowerCase();
    if (low === "::" || low === "::1") return false;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(low);
    if (mapped) return isGlobalUnicast(mapped[1]!);
    // fe80::/10 link-local, ff00::/8 multicast.
    return !/^fe[89ab]/.test(low) && !low.startsWith("ff");
  }
  return false;
}

/** Serves the kubelet-backed subresources; see the module comment. */
export class KubeletProxy {
  readonly connections: KubeletConnections;
  private readonly log: Logger;
  /** For `nodes/{name}:{port}/proxy` to ports other than the kubelet's: no client certificate, no verification. */
  private readonly plainHttp = new HttpAgent({ keepAlive: true });
  private readonly plainHttps = new HttpsAgent({ keepAlive: true, rejectUnauthorized: false });
  /** Piped upgrade connections (exec, attach, port-forward): the server's close does not reach them. */
  private readonly upgraded = new Set<Duplex>();

  constructor(private readonly o: KubeletProxyOptions) {
    this.connections = new KubeletConnections(o.nodes, o.client);
    this.log = o.logger.with({ component: "kubelet-proxy" });
  }

  /** Whether this serves `info`. */
  handles(info: RequestInfo): boolean {
    if (!info.isResourceRequest || info.group !== "" || info.version !== "v1" || !info.name) return false;
    if (info.resource === "pods") return info.subresource === "log" || POD_STREAMS.has(info.subresource);
    return info.resource === "nodes" && info.subresource === "proxy";
  }

  /**
   * Whether a request path is long-running (not counted against
   * max-in-flight): the attach, exec, proxy, log and portforward
   * subresources, as upstream's BasicLongRunningRequestCheck.
   */
  static isLongRunningPath(path: string): boolean {
    return LONG_RUNNING.test(path);
  }

  async serve(r: KubeletProxyRequest): Promise<void> {
    const { info } = r;
    if (info.resource === "nodes") return this.nodeProxy(r);
    if (info.subresource === "log") return this.podLog(r);
    return this.podStream(r);
  }

  /** Closes pooled connections and ends piped streams. */
  close(): void {
    for (const s of this.upgraded) s.destroy();
    this.upgraded.clear();
    this.connections.close();
    this.plainHttp.destroy();
    this.plainHttps.destroy();
  }

  private async podLog(r: KubeletProxyRequest): Promise<void> {
    const { info, url, res } = r;
    if (info.verb !== "get") throw methodNotSupported({ group: "", resource: "pods/log" }, info.verb);
    let opts: PodLogOptions;
    try {
      opts = decodePodLogOptions(url.searchParams);
    } catch (err) {
      if (err instanceof LogOptionsDecodeError) throw badRequest(err.message);
      throw err;
    }
    const errs = validatePodLogOptions(opts);
    if (errs.length > 0) throw invalid("PodLogOptions", "", info.name, errs);
    const pod = await this.o.pods.get(info.namespace, info.name);
    const container = chooseContainer(pod, info.name, opts.container);
    const nodeName = (pod.spec as { nodeName?: string } | undefined)?.nodeName;
    // Not scheduled yet: nothing to read, as upstream's empty location (204).
    if (!nodeName) {
      res.writeHead(204);
      res.end();
      return;
    }
    const ep = await this.connections.endpoint(nodeName);
    const query = kubeletLogQuery(opts);
    const target = new URL(`https://${ep.hostPort}/containerLogs/${enc(info.namespace)}/${enc(info.name)}/${enc(container)}${query ? `?${query}` : ""}`);
    const ac = new AbortController();
    const abort = () => ac.abort();
    res.on("close", abort);
    let upstream: IncomingMessage;
    try {
      upstream = await sendRequest({ url: target, agent: this.connections.agentFor(opts.insecureSkipTLSVerifyBackend), method: "GET", headers: { Accept: "*/*" }, signal: ac.signal });
    } catch (err) {
      res.off("close", abort);
      if (err instanceof BackendError) throw unknownError(`Get ${JSON.stringify(target.toString())}: ${err.goText}`);
      throw err;
    }
    const code = upstream.statusCode ?? 0;
    if (code < 200 || code > 206) {
      res.off("close", abort);
      throw kubeletResponseError(code, await readLimited(upstream), { group: "", resource: "pods/log" }, info.name);
    }
    res.writeHead(200, { "Content-Type": "text/plain", "Transfer-Encoding": "chunked" });
    try {
      await pipeline(upstream, res);
    } catch (err) {
      // The client went away (a follow ended with ctrl-c) or the kubelet did: nothing more to say.
      this.log.debug("log stream ended", { pod: `${info.namespace}/${info.name}`, err: (err as Error).message });
    } finally {
      res.off("close", abort);
    }
  }

  private async podStream(r: KubeletProxyRequest): Promise<void> {
    const { info, url, req } = r;
    const sub = info.subresource;
    if (info.verb !== "get" && info.verb !== "create") throw methodNotSupported({ group: "", resource: `pods/${sub}` }, info.verb);
    const q = url.searchParams;
    const params = new URLSearchParams();
    let container: string | undefined;
    // Options decode before the pod is read, as upstream's connect handler decodes them.
    const ports = sub === "portforward" ? portsOf(q.getAll("ports")) : [];
    const pod = await this.o.pods.get(info.namespace, info.name);
    if (sub === "portforward") {
      if (ports.length > 0) params.append("port", ports.join(","));
    } else {
      container = chooseContainer(pod, info.name, q.get("container") ?? undefined);
      for (const s of ["stdin", "stdout", "stderr", "tty"]) if (flag(q, s)) params.append(s, "1");
      if (sub === "exec") for (const c of q.getAll("command")) params.append("command", c);
    }
    const nodeName = (pod.spec as { nodeName?: string } | undefined)?.nodeName;
    if (!nodeName) throw badRequest(`pod ${info.name} does not have a host assigned`);
    const ep = await this.connections.endpoint(nodeName);
    params.sort();
    const path =
      sub === "portforward"
        ? `/portForward/${enc(info.namespace)}/${enc(info.name)}`
        : `/${sub}/${enc(info.namespace)}/${enc(info.name)}/${enc(container!)}`;
    const query = params.toString();
    if (!isUpgradeRequest(req)) throw badRequest("Upgrade request required");
    await proxyUpgrade(req, r.res, new URL(`https://${ep.hostPort}${path}${query ? `?${query}` : ""}`), this.connections.agentFor(), this.log, this.upgraded);
  }

  private async nodeProxy(r: KubeletProxyRequest): Promise<void> {
    const { url, req, res } = r;
    const m = /^\/api\/v1\/nodes\/([^/]+)\/proxy(\/.*)?$/.exec(url.pathname);
    if (!m) throw badRequest(`invalid node proxy path ${JSON.stringify(url.pathname)}`);
    const id = decodeURIComponent(m[1]!);
    const split = splitSchemeNamePort(id);
    if (!split) throw badRequest(`invalid node request ${JSON.stringify(id)}`);
    const ep = await this.connections.endpoint(split.name);
    if (!this.connections.config.allowLoopbackProxy && !(await proxyable(ep.host))) throw badRequest("address not allowed");
    const rest = m[2] ?? "/";
    const kubelet = split.port === "" || split.port === String(ep.port);
    const scheme = kubelet ? "https" : split.scheme || "http";
    const hostPort = kubelet ? ep.hostPort : (ep.host.includes(":") ? `[${ep.host}]:${split.port}` : `${ep.host}:${split.port}`);
    const target = new URL(`${scheme}://${hostPort}${rest}${url.search}`);
    const agent = kubelet ? this.connections.agentFor() : scheme === "https" ? this.plainHttps : this.plainHttp;
    if (isUpgradeRequest(req)) return proxyUpgrade(req, res, target, agent, this.log, this.upgraded);
    const ac = new AbortController();
    const abort = () => ac.abort();
    res.on("close", abort);
    try {
      const hasBody = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
      let upstream: IncomingMessage;
      try {
        upstream = await sendRequest({ url: target, agent, method: req.method ?? "GET", headers: forwardHeaders(req, { upgrade: false }), body: hasBody ? req : undefined, signal: ac.signal });
      } catch (err) {
        // As upstream's proxy transport wrapper.
        if (err instanceof BackendError) throw new StatusError({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: `error trying to reach service: ${err.goText}`, reason: "ServiceUnavailable", code: 503 });
        throw err;
      }
      res.writeHead(upstream.statusCode ?? 502, upstream.statusMessage, responseHeaders(upstream));
      await pipeline(upstream, res).catch((err) => this.log.debug("node proxy stream ended", { node: split.name, err: (err as Error).message }));
    } finally {
      res.off("close", abort);
    }
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

/** runtime.Convert_Slice_string_To_bool. */
function flag(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v !== null && v !== "0" && v.toLowerCase() !== "false";
}

/** PodPortForwardOptions.ports: repeated and/or comma-separated uint16s (upstream's Convert_Slice_string_To_Slice_int32). */
function portsOf(values: readonly string[]): number[] {
  const out: number[] = [];
  for (const v of values) {
    for (const p of v.split(",")) {
      const n = /^\d+$/.test(p) ? Number(p) : Number.NaN;
      if (!(n >= 0 && n <= 65535)) throw badRequest(`cannot convert to []int32: strconv.ParseUint: parsing ${JSON.stringify(p)}: ${/^\d+$/.test(p) ? "value out of range" : "invalid syntax"}`);
      out.push(n);
    }
  }
  return out;
}

/** Upstream's utilnet.SplitSchemeNamePort: `name`, `name:port` or `scheme:name:port`. */
export function splitSchemeNamePort(id: string): { scheme: string; name: string; port: string } | undefined {
  const parts = id.split(":");
  let scheme = "";
  let name: string;
  let port = "";
  if (parts.length === 1) name = parts[0]!;
  else if (parts.length === 2) [name, port] = parts as [string, string];
  else if (parts.length === 3) [scheme, name, port] = parts as [string, string, string];
  else return undefined;
  if (!name || (scheme !== "" && scheme !== "http" && scheme !== "https")) return undefined;
  return { scheme, name, port };
}

/** Whether every address `host` stands for may be proxied to (upstream's isProxyableHostname). */
async function proxyable(host: string): Promise<boolean> {
  if (isIP(host)) return isGlobalUnicast(host);
  try {
    const addrs = await lookup(host, { all: true });
    return addrs.length > 0 && addrs.every((a) => isGlobalUnicast(a.address));
  } catch {
    return false;
  }
}
