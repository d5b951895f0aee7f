/**
 * The host-side plumbing around the plugins: links, routes and sysctls,
 * through iproute2 (`ip -j` for reading). Failures come back as messages.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { describeFailure, runCommand } from "./exec.js";

/** Runs `ip ARGS`; resolves with an error message, or undefined on success. */
export async function ip(args: readonly string[]): Promise<string | undefined> {
  const o = await runCommand("ip", args);
  return o.code === 0 ? undefined : describeFailure("ip", args, o);
}

/** Runs `ip -j ARGS` and parses its JSON; undefined when the command fails. */
export async function ipJson<T>(args: readonly string[]): Promise<T | undefined> {
  const o = await runCommand("ip", ["-j", ...args]);
  if (o.code !== 0) return undefined;
  try {
    return (o.stdout.trim() === "" ? [] : JSON.parse(o.stdout)) as T;
  } catch {
    return undefined;
  }
}

/** One link as `ip -j link show` / `ip -j addr show` reports it. */
export interface LinkInfo {
  readonly ifname: string;
  readonly flags?: readonly string[];
  readonly linkinfo?: { readonly info_kind?: string };
  readonly addr_info?: readonly { readonly family: string; readonly local: string; readonly prefixlen: number }[];
}

/** The link named `name`, if it exists. */
export async function getLink(name: string): Promise<LinkInfo | undefined> {
  const links = await ipJson<LinkInfo[]>(["-d", "addr", "show", "dev", name]);
  return links?.[0];
}

/** Every link with its addresses. */
export async function listLinks(): Promise<LinkInfo[]> {
  return (await ipJson<LinkInfo[]>(["-d", "addr", "show"])) ?? [];
}

/**
 * Makes sure an up bridge named `name` exists (a bridge without ports is
 * the "device with no way out" this kernel offers instead of a dummy).
 */
export async function ensureBridge(name: string): Promise<string | undefined> {
  const link = await getLink(name);
  if (link === undefined) {
    const err = await ip(["link", "add", name, "type", "bridge"]);
    if (err !== undefined && (await getLink(name)) === undefined) return err;
  } else if (link.linkinfo?.info_kind !== "bridge") {
    return `link ${name} exists and is a ${link.linkinfo?.info_kind ?? "non-bridge"} device, not a bridge`;
  }
  return ip(["link", "set", name, "up"]);
}

/** Deletes link `name`; succeeds when it does not exist. */
export async function deleteLink(name: string): Promise<string | undefined> {
  if ((await getLink(name)) === undefined) return undefined;
  const err = await ip(["link", "del", name]);
  return err !== undefined && (await getLink(name)) !== undefined ? err : undefined;
}

/** One IPv4 route as `ip -j route show` reports it. */
export interface RouteInfo {
  readonly type?: string;
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
  readonly protocol?: string;
}

/** Every route of the main IPv4 table, of every type (unicast, unreachable, …). */
export async function listRoutes(): Promise<RouteInfo[]> {
  // Plain `ip route show` lists the main table with every route type, unreachable included.
  return (await ipJson<RouteInfo[]>(["-4", "route", "show"])) ?? [];
}

/** Deletes a route given as `ip route del` arguments; succeeds when it is already gone. */
export async function deleteRoute(args: readonly string[]): Promise<string | undefined> {
  const o = await runCommand("ip", ["route", "del", ...args]);
  if (o.code === 0 || /No such process|not found/i.test(o.stderr)) return undefined;
  return describeFailure("ip", ["route", "del", ...args], o);
}

/** Sets a sysctl under /proc/sys when its value differs; resolves with whether it changed. */
export function setSysctl(key: string, value: string): { changed: boolean; error?: string } {
  const path = `/proc/sys/${key.replaceAll(".", "/")}`;
  try {
    if (readFileSync(path, "utf8").trim() === value) return { changed: false };
    writeFileSync(path, value);
    return { changed: true };
  } catch (err) {
    return { changed: false, error: `cannot set ${key}=${value}: ${(err as Error).message}` };
  }
}

/** True when the sysctl exists (e.g. `net.bridge.bridge-nf-call-iptables` only with br_netfilter). */
export function sysctlExists(key: string): boolean {
  return existsSync(`/proc/sys/${key.replaceAll(".", "/")}`);
}
