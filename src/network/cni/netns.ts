/**
 * Named network namespaces (`ip netns`): one per sandbox at
 * `/run/netns/<name>`, a bind mount that outlives the agent process, so a
 * restarted agent finds it again by name.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describeFailure, runCommand } from "./exec.js";

/** Where `ip netns` keeps its namespaces. */
export const NETNS_RUN_DIR = "/run/netns";

/** The path of the named namespace. */
export function netnsPath(name: string): string {
  return join(NETNS_RUN_DIR, name);
}

/** True when the named namespace exists. */
export function netnsExists(name: string): boolean {
  return existsSync(netnsPath(name));
}

/** Creates the named namespace; an existing one is kept. Resolves with an error message on failure. */
export async function createNetns(name: string): Promise<string | undefined> {
  if (netnsExists(name)) return undefined;
  const args = ["netns", "add", name];
  const o = await runCommand("ip", args);
  if (o.code === 0 || netnsExists(name)) return undefined;
  return describeFailure("ip", args, o);
}

/** Deletes the named namespace; succeeds when it does not exist. */
export async function deleteNetns(name: string): Promise<string | undefined> {
  if (!netnsExists(name)) return undefined;
  const args = ["netns", "delete", name];
  const o = await runCommand("ip", args);
  if (o.code === 0 || !netnsExists(name)) return undefined;
  return describeFailure("ip", args, o);
}

/** Names of every named namespace. */
export function listNetns(): string[] {
  try {
    return readdirSync(NETNS_RUN_DIR);
  } catch {
    return [];
  }
}
