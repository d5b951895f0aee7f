/**
 * Running a conflist as libcni does: ADD through the plugins in order, each
 * getting the previous plugin's result as `prevResult`; CHECK in order and
 * DEL in reverse order, every plugin getting the cached ADD result.
 * Errors read as libcni's: `plugin type="bridge" name="skiff0" failed (add): …`.
 */
import { type CapabilityArgs, type CniConfList, pluginConfig } from "./conflist.js";
import { type CniCommand, type CniRuntimeArgs, invokePlugin } from "./plugin-exec.js";

/** The outcome of a chain call. */
export type ChainOutcome =
  | { readonly ok: true; readonly result: unknown }
  | {
      readonly ok: false;
      readonly message: string;
      /** ADD only: the result of the plugins that succeeded before the failure (for the DEL that undoes them). */
      readonly partialResult?: unknown;
    };

const verb: Record<CniCommand, string> = { ADD: "add", DEL: "delete", CHECK: "check" };

function failure(list: CniConfList, type: string, cmd: CniCommand, message: string): string {
  return `plugin type="${type}" name="${list.name}" failed (${verb[cmd]}): ${message}`;
}

/** CNI ADD of every plugin in order; resolves with the last plugin's result. */
export async function addNetworkList(list: CniConfList, rt: CniRuntimeArgs, caps: CapabilityArgs): Promise<ChainOutcome> {
  let prev: unknown;
  for (const plugin of list.plugins) {
    const o = await invokePlugin(plugin.type, "ADD", pluginConfig(list, plugin, prev, caps), rt);
    if (!o.ok) return { ok: false, message: failure(list, plugin.type, "ADD", o.message), partialResult: prev };
    if (o.output === undefined) {
      return { ok: false, message: failure(list, plugin.type, "ADD", "plugin returned no result"), partialResult: prev };
    }
    prev = o.output;
  }
  return { ok: true, result: prev };
}

/**
 * CNI DEL of every plugin in reverse order with `cachedResult` (the ADD
 * result, when known) as prevResult. Every plugin runs even when one
 * fails, so one broken plugin does not strand the others' resources; the
 * first failure is reported.
 */
export async function delNetworkList(list: CniConfList, rt: CniRuntimeArgs, caps: CapabilityArgs, cachedResult: unknown): Promise<ChainOutcome> {
  let firstError: string | undefined;
  for (const plugin of [...list.plugins].reverse()) {
    const o = await invokePlugin(plugin.type, "DEL", pluginConfig(list, plugin, cachedResult, caps), rt);
    if (!o.ok && firstError === undefined) firstError = failure(list, plugin.type, "DEL", o.message);
  }
  return firstError === undefined ? { ok: true, result: undefined } : { ok: false, message: firstError };
}

/** CNI CHECK of every plugin in order against the cached ADD result. */
export async function checkNetworkList(list: CniConfList, rt: CniRuntimeArgs, caps: CapabilityArgs, cachedResult: unknown): Promise<ChainOutcome> {
  for (const plugin of list.plugins) {
    const o = await invokePlugin(plugin.type, "CHECK", pluginConfig(list, plugin, cachedResult, caps), rt);
    if (!o.ok) return { ok: false, message: failure(list, plugin.type, "CHECK", o.message) };
  }
  return { ok: true, result: cachedResult };
}
