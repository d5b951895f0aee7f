/**
 * Test support for the service proxy's real-kernel tests (nftables and
 * iptables mode): a "host" network namespace that holds the proxy's rules;
 * pod namespaces that reach it over their own /30 veth links (so every
 * packet is routed by the host and its conntrack sees both directions) and
 * serve HTTP with busybox httpd on 8080 and 8081; an "outside" namespace
 * that plays a machine on the node's network. Each test file passes its own
 * address ranges and name tag, so files running at once never meet.
 * Used only by tests; needs root.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import type { Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import { silentLogger } from "../../machinery/log.js";
import { runCommand } from "../cni/exec.js";
import type { ConntrackRunner } from "./conntrack.js";
import { FakeSource, makeEndpoint, makeService, makeSlice } from "./fake-source.js";
import type { ServiceProxyOptions, SyncReport } from "./service-proxy.js";

/** Runs a command and resolves with its stdout; throws with its stderr when it fails (test setup and probes). */
export async function sh(cmd: string, ...args: string[]): Promise<string> {
  const o = await runCommand(cmd, args, { timeoutMs: 20_000 });
  if (o.code !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${o.stderr || o.error || o.code}`);
  return o.stdout;
}

/** The addresses of one run, for the third octet N it picked. */
export interface ProxyKernelLayout {
  /** The pod network's /24 as its first three octets: pod i is `.4i+2` on a /30 whose host side is `.4i+1`. */
  readonly podNet: string;
  /** The service CIDR; the host routes it to the uplink so its own connects get as far as the DNAT. */
  readonly serviceCidr: string;
  /** The node's address on its /30 link to the outside namespace. */
  readonly nodeIP: string;
  /** The outside machine's address on that link. */
  readonly outsideIP: string;
}

/** Options of {@link ProxyKernelFixture}. */
export interface ProxyKernelFixtureOptions {
  /** One letter naming this file's namespaces: `skiff-t-<tag>h-<id>` (host), `…<tag>o…` (outside), `…<tag>p<pod>…` (pods). */
  readonly tag: string;
  /** Names the files' directory `/tmp/skiff-proxy-<name>-<id>`. */
  readonly name: string;
  /** Second octets of the 10.X/16 ranges the file owns: the run's third octet N is free (on no link) in each. */
  readonly ranges: readonly number[];
  /** The addresses for third octet N; all must lie in `ranges`. */
  readonly layout: (n: number) => ProxyKernelLayout;
}

/** What an HTTP GET returned: the body, or the error text (nc's output and stderr). */
export interface FetchResult {
  readonly ok: boolean;
  readonly text: string;
}

/** The pods: a and b serve as endpoints, c is the client. */
export const PODS = ["a", "b", "c"] as const;

/**
 * The namespaces, links and httpd servers of one test file's run, with the
 * in-memory Services and EndpointSlices its proxy watches and the proxy's
 * sync reports. Call {@link setUp} in `before` and {@link tearDown} in
 * `after` (it also undoes a half-done setUp); addresses are valid after setUp.
 */
export class ProxyKernelFixture {
  readonly id = randomBytes(3).toString("hex");
  readonly services = new FakeSource<Service>();
  readonly slices = new FakeSource<EndpointSlice>();
  readonly sync = new SyncReports();
  readonly host: string;
  readonly outside: string;
  readonly dir: string;
  readonly #opts: ProxyKernelFixtureOptions;
  readonly #servers: number[] = [];
  #n = 0;
  #layout: ProxyKernelLayout | undefined;

  constructor(opts: ProxyKernelFixtureOptions) {
    this.#opts = opts;
    this.host = `skiff-t-${opts.tag}h-${this.id}`;
    this.outside = `skiff-t-${opts.tag}o-${this.id}`;
    this.dir = `/tmp/skiff-proxy-${opts.name}-${this.id}`;
  }

  /** The run's third octet. */
  get n(): number {
    return this.#n;
  }

  get #addrs(): ProxyKernelLayout {
    if (this.#layout === undefined) throw new Error("ProxyKernelFixture: setUp() has not picked the addresses yet");
    return this.#layout;
  }

  /** Pod `p`'s network namespace. */
  podNs(p: string): string {
    return `skiff-t-${this.#opts.tag}p${p}-${this.id}`;
  }

  /** Pod i's address. */
  podIP(i: number): string {
    return `${this.#addrs.podNet}.${4 * i + 2}`;
  }

  /** The host's address on pod i's link (pod i's default gateway). */
  podGateway(i: number): string {
    return `${this.#addrs.podNet}.${4 * i + 1}`;
  }

  get clusterCidr(): string {
    return `${this.#addrs.podNet}.0/24`;
  }

  get serviceCidr(): string {
    return this.#addrs.serviceCidr;
  }

  get nodeIP(): string {
    return this.#addrs.nodeIP;
  }

  get outsideIP(): string {
    return this.#addrs.outsideIP;
  }

  /** Runs `conntrack` in the host namespace (the proxy's ConntrackRunner). */
  readonly conntrack: ConntrackRunner = (args) => runCommand("ip", ["netns", "exec", this.host, "conntrack", ...args]);

  /** A free third octet N: 10.X.N.0/24 is on no link here for every owned X. */
  async #freeOctet(): Promise<number> {
    for (;;) {
      const n = randomInt(1, 255);
      const used = await Promise.all(this.#opts.ranges.map((b) => sh("ip", "-4", "-o", "addr", "show", "to", `10.${b}.${n}.0/24`)));
      if (used.every((u) => u.trim() === "")) return n;
    }
  }

  /** Makes the namespaces and links, starts the pods' httpd servers and waits until every one answers. */
  async setUp(): Promise<void> {
    this.#n = await this.#freeOctet();
    this.#layout = this.#opts.layout(this.#n);
    const { host, outside, dir } = this;
    mkdirSync(dir, { recursive: true });
    await sh("ip", "netns", "add", host);
    await sh("ip", "netns", "add", outside);
    await sh("ip", "netns", "exec", host, "sysctl", "-qw", "net.ipv4.ip_forward=1");
    await sh("ip", "-n", host, "link", "set", "lo", "up");
    // The node's own network: the host and a machine outside on one /30.
    await sh("ip", "-n", host, "link", "add", "uplink", "type", "veth", "peer", "name", "eth0", "netns", outside);
    await sh("ip", "-n", host, "addr", "add", `${this.nodeIP}/30`, "dev", "uplink");
    await sh("ip", "-n", host, "link", "set", "uplink", "up");
    await sh("ip", "-n", outside, "addr", "add", `${this.outsideIP}/30`, "dev", "eth0");
    await sh("ip", "-n", outside, "link", "set", "eth0", "up");
    await sh("ip", "-n", outside, "link", "set", "lo", "up");
    // The service CIDR routes somewhere in the host so its own connects get as far as the DNAT.
    await sh("ip", "-n", host, "route", "add", this.serviceCidr, "dev", "uplink");
    for (const [i, p] of PODS.entries()) {
      const ns = this.podNs(p);
      await sh("ip", "netns", "add", ns);
      await sh("ip", "-n", host, "link", "add", `veth-${p}`, "type", "veth", "peer", "name", "eth0", "netns", ns);
      await sh("ip", "-n", host, "addr", "add", `${this.podGateway(i)}/30`, "dev", `veth-${p}`);
      await sh("ip", "-n", host, "link", "set", `veth-${p}`, "up");
      await sh("ip", "-n", ns, "addr", "add", `${this.podIP(i)}/30`, "dev", "eth0");
      await sh("ip", "-n", ns, "link", "set", "eth0", "up");
      await sh("ip", "-n", ns, "link", "set", "lo", "up");
      await sh("ip", "-n", ns, "route", "add", "default", "via", this.podGateway(i));
      mkdirSync(`${dir}/${p}/cgi-bin`, { recursive: true });
      writeFileSync(`${dir}/${p}/index.html`, `pod-${p}\n`);
      // /cgi-bin/ip answers with the client address the pod sees (to tell masqueraded traffic from direct).
      writeFileSync(`${dir}/${p}/cgi-bin/ip`, '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s\\n" "$REMOTE_ADDR"\n', { mode: 0o755 });
      for (const port of ["8080", "8081"]) {
        const child = spawn("ip", ["netns", "exec", ns, "busybox", "httpd", "-f", "-p", port, "-h", `${dir}/${p}`], { stdio: "ignore" });
        if (child.pid !== undefined) this.#servers.push(child.pid);
      }
    }
    // The outside machine reaches the node only: no route to pods or services.
    for (const i of PODS.keys()) {
      for (const port of [8080, 8081]) {
        for (let tries = 0; ; tries++) {
          const r = await this.fetchFrom(host, `http://${this.podIP(i)}:${port}/`);
          if (r.ok) break;
          if (tries > 200) throw new Error(`httpd in pod ${i} never answered: ${r.text}`);
          await new Promise((res) => setTimeout(res, 50));
        }
      }
    }
  }

  /** Kills the httpd servers (by PID), deletes the namespaces (with their links and rules) and the files. */
  async tearDown(): Promise<void> {
    for (const pid of this.#servers.splice(0)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    for (const ns of [this.host, this.outside, ...PODS.map((p) => this.podNs(p))]) await runCommand("ip", ["netns", "del", ns]);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** An HTTP GET from a namespace with busybox nc (its static wget crashes here): the body, or the error text. */
  async fetchFrom(ns: string, url: string, timeoutSeconds = 5): Promise<FetchResult> {
    const u = new URL(url);
    const args = ["netns", "exec", ns, "busybox", "nc", "-w", String(timeoutSeconds), u.hostname, u.port || "80"];
    const o = await runCommand("ip", args, { input: `GET ${u.pathname} HTTP/1.0\r\nHost: ${u.host}\r\n\r\n`, timeoutMs: 15_000 });
    const sep = o.stdout.indexOf("\r\n\r\n");
    if (o.code === 0 && o.stdout.startsWith("HTTP/1.") && sep >= 0) return { ok: true, text: o.stdout.slice(sep + 4).trim() };
    return { ok: false, text: `${o.stdout}${o.stderr}${o.error ?? ""}`.trim() };
  }

  /** The client address busybox httpd hands CGI (`[::ffff:a.b.c.d]` on its dual-stack socket) as plain IPv4. */
  async clientIPSeenBy(ns: string, url: string): Promise<string> {
    const r = await this.fetchFrom(ns, url);
    assert.ok(r.ok, r.text);
    return plainIPv4(r.text);
  }

  /**
   * The options both modes' proxies share: this node ("node-1") with its
   * address, the fixture's sources, the run's CIDRs, every change applied at
   * once, conntrack in the host namespace, reports to {@link sync} unless
   * `onSynced` is given. The caller adds the mode and its rule runners.
   */
  proxyOptions(tableSuffix: string, onSynced: (r: SyncReport) => void = this.sync.onSynced): ServiceProxyOptions {
    return {
      services: this.services,
      endpointSlices: this.slices,
      nodeName: "node-1",
      nodeIPs: [this.nodeIP],
      clusterCidr: this.clusterCidr,
      serviceCidr: this.serviceCidr,
      tableSuffix,
      minSyncPeriodMs: 0,
      logger: silentLogger,
      conntrack: this.conntrack,
      onSynced,
    };
  }

  /** The NodePort Service default/web both files test with: port 80 (named http) → 8080, NodePort 30080. */
  webService(vip: string): Service {
    return makeService("default", "web", vip, [{ name: "http", port: 80, protocol: "TCP", targetPort: 8080, nodePort: 30080 }], { type: "NodePort" });
  }

  /** default/web's EndpointSlice with ready endpoints on this node. */
  webSlice(ips: string[]): EndpointSlice {
    return makeSlice("default", "web-abc", "web", [{ name: "http", port: 8080 }], ips.map((ip) => makeEndpoint(ip, "node-1")));
  }

  /** Asserts that GETs from pod c to `url` reach both pod a and pod b (within 40 tries). */
  async expectBalanced(url: string): Promise<void> {
    const seen = new Set<string>();
    for (let i = 0; i < 40 && seen.size < 2; i++) {
      const r = await this.fetchFrom(this.podNs("c"), url);
      assert.ok(r.ok, r.text);
      seen.add(r.text);
    }
    assert.deepEqual([...seen].sort(), ["pod-a", "pod-b"]);
  }

  /** Asserts that a GET from namespace `ns` to `url` fails with connection refused (a reject, not a drop). */
  async expectRefused(ns: string, url: string): Promise<void> {
    const r = await this.fetchFrom(ns, url);
    assert.equal(r.ok, false);
    assert.match(r.text, /refused/i);
  }

  /**
   * Creates default/sticky (ClusterIP `ip`, port 80 → 8081 on pods a and b,
   * sessionAffinity ClientIP for 600 s) and asserts that pod c's requests
   * all reach the endpoint its first one reached.
   */
  async expectClientIPAffinity(ip: string): Promise<void> {
    await this.sync.apply("default/sticky", () => {
      this.services.set(
        makeService("default", "sticky", ip, [{ port: 80, protocol: "TCP", targetPort: 8081 }], {
          sessionAffinity: "ClientIP",
          sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } },
        }),
      );
      this.slices.set(makeSlice("default", "sticky-1", "sticky", [{ port: 8081 }], [makeEndpoint(this.podIP(0), "node-1"), makeEndpoint(this.podIP(1), "node-1")]));
    });
    const first = await this.fetchFrom(this.podNs("c"), `http://${ip}/`);
    assert.ok(first.ok, first.text);
    for (let i = 0; i < 15; i++) assert.equal((await this.fetchFrom(this.podNs("c"), `http://${ip}/`)).text, first.text);
  }
}

/** busybox httpd's `[::ffff:a.b.c.d]` (its dual-stack socket's view of an IPv4 client) as `a.b.c.d`. */
export function plainIPv4(text: string): string {
  return text.replace(/^\[::ffff:(.*)\]$/, "$1");
}

/**
 * The proxy's sync reports as they come ({@link onSynced} is its callback),
 * so a test can wait for the sync that carried its change.
 */
export class SyncReports {
  readonly reports: SyncReport[] = [];
  readonly #waiters = new Set<() => void>();

  /** The proxy's `onSynced`: records the report and wakes every waiter. */
  readonly onSynced = (r: SyncReport): void => {
    this.reports.push(r);
    for (const w of [...this.#waiters]) {
      this.#waiters.delete(w);
      w();
    }
  };

  /** How many reports have come so far (a `since` mark). */
  get length(): number {
    return this.reports.length;
  }

  /** Resolves at the next report. */
  next(): Promise<void> {
    return new Promise<void>((res) => this.#waiters.add(res));
  }

  /** Waits until a successful sync (after `since` reports) covered service `key`; throws on a failed one. */
  async synced(key: string, since: number): Promise<void> {
    for (;;) {
      const r = this.reports.slice(since).find((x) => x.error === undefined && (x.full || x.services.includes(key)));
      if (r) return;
      const failed = this.reports.slice(since).find((x) => x.error !== undefined);
      if (failed) throw new Error(`sync failed: ${failed.error}`);
      await this.next();
    }
  }

  /** Makes a change to the sources and waits until a sync covered service `key`. */
  async apply(key: string, change: () => void): Promise<void> {
    const since = this.reports.length;
    change();
    await this.synced(key, since);
  }
}
