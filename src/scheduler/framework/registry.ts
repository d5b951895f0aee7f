/**
 * The plugin registry (runtime.Registry): plugin name → how to build it, plus
 * what config loading needs to know about its args (the args kind, defaulting
 * and validation). Adding a plugin is one `registry.set(name, {...})`.
 */
import type { PluginFactory } from "./types.js";

export interface PluginRegistration {
  readonly factory: PluginFactory;
  /** The args kind ("NodeResourcesFitArgs"), for plugins that take args; config defaulting adds default args for these. */
  readonly argsKind?: string;
  /** Fills in defaults; receives a copy of the user's args (or {}) and returns the defaulted args. */
  readonly defaultArgs?: (args: Record<string, unknown>) => Record<string, unknown>;
  /** Upstream-worded errors for bad args ("<field path>: <detail>"); `path` is e.g. "profiles[0].pluginConfig[1].args". */
  readonly validateArgs?: (path: string, args: Record<string, unknown>) => string[];
}

export type Registry = Map<string, PluginRegistration>;

/** Merge: a registry with `other`'s plugins added; a name in both is an error. */
export function mergeRegistries(base: Registry, other: Registry): Registry {
  const out: Registry = new Map(base);
  for (const [name, reg] of other) {
    if (out.has(name)) throw new Error(`a plugin named ${name} already exists`);
    out.set(name, reg);
  }
  return out;
}
