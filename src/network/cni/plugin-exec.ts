/**
 * The CNI plugin calling convention (CNI spec "Execution Protocol"): a
 * plugin is an executable found by its `type` in the plugin directories,
 * told what to do through CNI_* environment variables and given its network
 * configuration on standard input. It answers with a result (ADD) or nothing
 * (DEL, CHECK) on standard output, or with a CNI error object and a non-zero
 * exit status.
 */
import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { runCommand } from "./exec.js";

/** The operations skiff asks of plugins. */
export type CniCommand = "ADD" | "DEL" | "CHECK";

/** The per-call parameters (the CNI_* environment). */
export interface CniRuntimeArgs {
  /** CNI_CONTAINERID: the sandbox id. */
  readonly containerId: string;
  /** CNI_NETNS: path of the network namespace. */
  readonly netns: string;
  /** CNI_IFNAME: the interface to create inside the namespace. */
  readonly ifName: string;
  /** CNI_ARGS: `K=V;K=V` pairs (the Kubernetes pod identity). */
  readonly args: string;
  /** CNI_PATH: where plugins (and the IPAM plugins they delegate to) are looked up, in order. */
  readonly binDirs: readonly string[];
  /** How long one plugin may run before it is killed. */
  readonly timeoutMs: number;
}

/** A plugin call's outcome: the parsed standard output (ADD's result; undefined when empty) or the error message. */
export type PluginOutcome = { readonly ok: true; readonly output: unknown } | { readonly ok: false; readonly message: string };

/** The first `binDirs` entry holding an executable `type`, as libcni's FindInPath. */
export function findPlugin(type: string, binDirs: readonly string[]): string | undefined {
  if (type.includes("/") || type === "" || type.startsWith(".")) return undefined;
  for (const dir of binDirs) {
    const p = join(dir, type);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next directory
    }
  }
  return undefined;
}

/** libcni's message for a plugin that is nowhere to be found. */
export function pluginNotFoundMessage(type: string, binDirs: readonly string[]): string {
  return `failed to find plugin "${type}" in path [${binDirs.join(" ")}]`;
}

/** The text libcni makes of a CNI error object: `msg; details`. */
export function formatCniError(e: { msg?: unknown; details?: unknown; code?: unknown }): string {
  const msg = typeof e.msg === "string" && e.msg !== "" ? e.msg : `plugin error code ${String(e.code)}`;
  return typeof e.details === "string" && e.details !== "" ? `${msg}; ${e.details}` : msg;
}

// Plugins shell out to iptables, conntrack and ip; those live in sbin, which a non-login PATH may lack.
function pluginPath(): string {
  const have = (process.env.PATH ?? "").split(":").filter(Boolean);
  for (const d of ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]) if (!have.includes(d)) have.push(d);
  return have.join(":");
}

/**
 * Runs plugin `type` for `command` with `config` on standard input.
 * Resolves with the plugin's parsed output or its error message; never rejects.
 */
export async function invokePlugin(type: string, command: CniCommand, config: object, rt: CniRuntimeArgs): Promise<PluginOutcome> {
  const bin = findPlugin(type, rt.binDirs);
  if (bin === undefined) return { ok: false, message: pluginNotFoundMessage(type, rt.binDirs) };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: pluginPath(),
    CNI_COMMAND: command,
    CNI_CONTAINERID: rt.containerId,
    CNI_NETNS: rt.netns,
    CNI_IFNAME: rt.ifName,
    CNI_ARGS: rt.args,
    CNI_PATH: rt.binDirs.join(":"),
  };
  const o = await runCommand(bin, [], { input: JSON.stringify(config), env, timeoutMs: rt.timeoutMs });
  if (o.error !== undefined) return { ok: false, message: o.error };
  const stdout = o.stdout.trim();
  if (o.code !== 0) {
    // libcni's pluginErr: the error object on stdout, else stderr, else nothing useful.
    if (stdout === "") {
      const stderr = o.stderr.trim();
      return { ok: false, message: stderr === "" ? "netplugin failed with no error message" : `netplugin failed: ${JSON.stringify(stderr)}` };
    }
    try {
      return { ok: false, message: formatCniError(JSON.parse(stdout) as Record<string, unknown>) };
    } catch (err) {
      return { ok: false, message: `netplugin failed but error parsing its diagnostic message ${JSON.stringify(stdout)}: ${(err as Error).message}` };
    }
  }
  if (stdout === "") return { ok: true, output: undefined };
  try {
    return { ok: true, output: JSON.parse(stdout) as unknown };
  } catch (err) {
    return { ok: false, message: `plugin ${type} returned an unparsable result ${JSON.stringify(stdout.slice(0, 200))}: ${(err as Error).message}` };
  }
}
