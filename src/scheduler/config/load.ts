/**
 * Loading a KubeSchedulerConfiguration file (kube-scheduler --config): YAML
 * (or JSON) → strict decoding of kubescheduler.config.k8s.io/v1 → defaults →
 * validation. Every failure is a message, never a half-loaded config.
 */
import { parse } from "yaml";
import type { Registry } from "../framework/registry.js";
import { setDefaults } from "./defaults.js";
import { EXTENSION_POINTS, type KubeSchedulerConfiguration, SchedulerConfigAPIVersion, SchedulerConfigKind } from "./types.js";
import { aggregateErrors, validateSchedulerConfig } from "./validation.js";

export type ConfigResult = { ok: true; config: KubeSchedulerConfiguration } | { ok: false; error: string };

const TOP_LEVEL = new Set([
  "apiVersion",
  "kind",
  "parallelism",
  "percentageOfNodesToScore",
  "podInitialBackoffSeconds",
  "podMaxBackoffSeconds",
  "profiles",
  "leaderElection",
  "clientConnection",
  "healthzBindAddress",
  "metricsBindAddress",
  "enableProfiling",
  "enableContentionProfiling",
  "delayCacheUntilActive",
  "extenders",
]);
const PROFILE = new Set(["schedulerName", "percentageOfNodesToScore", "plugins", "pluginConfig"]);
const PLUGINS = new Set<string>(["multiPoint", ...EXTENSION_POINTS]);
const PLUGIN_SET = new Set(["enabled", "disabled"]);
const PLUGIN = new Set(["name", "weight"]);
const PLUGIN_CONFIG = new Set(["name", "args"]);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Strict decoding: unknown fields and wrongly typed values are errors, as with upstream's strict decoder. */
function checkFields(obj: unknown, allowed: ReadonlySet<string>, path: string, errs: string[]): void {
  if (!isObject(obj)) {
    errs.push(`${path || "config"}: expected an object`);
    return;
  }
  for (const k of Object.keys(obj)) if (!allowed.has(k)) errs.push(`unknown field "${path ? `${path}.` : ""}${k}"`);
}

function checkArray(v: unknown, path: string, errs: string[]): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    errs.push(`${path}: expected a list`);
    return [];
  }
  return v;
}

function checkType(v: unknown, type: "string" | "number" | "boolean", path: string, errs: string[]): void {
  if (v === undefined || v === null) return;
  if (typeof v !== type || (type === "number" && !Number.isInteger(v))) errs.push(`${path}: expected ${type === "number" ? "an integer" : `a ${type}`}`);
}

function strictCheck(doc: Record<string, unknown>): string[] {
  const errs: string[] = [];
  checkFields(doc, TOP_LEVEL, "", errs);
  for (const k of ["parallelism", "percentageOfNodesToScore", "podInitialBackoffSeconds", "podMaxBackoffSeconds"]) checkType(doc[k], "number", k, errs);
  checkArray(doc.profiles, "profiles", errs).forEach((p, i) => {
    const pp = `profiles[${i}]`;
    checkFields(p, PROFILE, pp, errs);
    if (!isObject(p)) return;
    checkType(p.schedulerName, "string", `${pp}.schedulerName`, errs);
    checkType(p.percentageOfNodesToScore, "number", `${pp}.percentageOfNodesToScore`, errs);
    if (p.plugins !== undefined && p.plugins !== null) {
      checkFields(p.plugins, PLUGINS, `${pp}.plugins`, errs);
      if (isObject(p.plugins)) {
        for (const [ep, set] of Object.entries(p.plugins)) {
          if (set === null || set === undefined) continue;
          checkFields(set, PLUGIN_SET, `${pp}.plugins.${ep}`, errs);
          if (!isObject(set)) continue;
          for (const which of ["enabled", "disabled"]) {
            checkArray(set[which], `${pp}.plugins.${ep}.${which}`, errs).forEach((pl, j) => {
              const path = `${pp}.plugins.${ep}.${which}[${j}]`;
              checkFields(pl, PLUGIN, path, errs);
              if (isObject(pl)) {
                checkType(pl.name, "string", `${path}.name`, errs);
                checkType(pl.weight, "number", `${path}.weight`, errs);
              }
            });
          }
        }
      }
    }
    checkArray(p.pluginConfig, `${pp}.pluginConfig`, errs).forEach((pc, j) => {
      const path = `${pp}.pluginConfig[${j}]`;
      checkFields(pc, PLUGIN_CONFIG, path, errs);
      if (!isObject(pc)) return;
      checkType(pc.name, "string", `${path}.name`, errs);
      if (pc.args !== undefined && pc.args !== null && !isObject(pc.args)) errs.push(`${path}.args: expected an object`);
      // Args name their kind ("<Plugin>Args") in the config's API group, or leave it implied.
      if (isObject(pc.args)) {
        const { apiVersion, kind } = pc.args;
        if (kind !== undefined && kind !== `${pc.name}Args`) {
          errs.push(`${path}.args: Invalid value: ${JSON.stringify(kind)}: has to match plugin args (kind ${JSON.stringify(`${pc.name}Args`)})`);
        }
        if (apiVersion !== undefined && apiVersion !== SchedulerConfigAPIVersion) {
          errs.push(`${path}.args: Invalid value: ${JSON.stringify(apiVersion)}: args must be ${SchedulerConfigAPIVersion}`);
        }
      }
    });
  });
  return errs;
}

/** Decodes a config document (without defaulting); errors name the bad apiVersion, kind or field. */
export function decodeSchedulerConfig(text: string): ConfigResult {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    return { ok: false, error: `couldn't decode as KubeSchedulerConfiguration: ${(e as Error).message}` };
  }
  if (!isObject(doc)) return { ok: false, error: "couldn't decode as KubeSchedulerConfiguration: the document is not an object" };
  const apiVersion = doc.apiVersion;
  const kind = doc.kind;
  if (apiVersion === undefined || kind === undefined) {
    return { ok: false, error: `Object 'apiVersion' and 'kind' are required: use apiVersion: ${SchedulerConfigAPIVersion}, kind: ${SchedulerConfigKind}` };
  }
  if (kind !== SchedulerConfigKind || apiVersion !== SchedulerConfigAPIVersion) {
    return {
      ok: false,
      error: `no kind ${JSON.stringify(kind)} is registered for version ${JSON.stringify(apiVersion)}: skiff reads ${SchedulerConfigKind} in ${SchedulerConfigAPIVersion}`,
    };
  }
  const errs = strictCheck(doc);
  if (errs.length > 0) return { ok: false, error: `strict decoding error: ${errs.join(", ")}` };
  return { ok: true, config: doc as KubeSchedulerConfiguration };
}

/** Defaults and validates a decoded (or hand-built) configuration. */
export function completeSchedulerConfig(cfg: KubeSchedulerConfiguration, registry: Registry): ConfigResult {
  const defaulted = setDefaults(cfg, registry);
  const errs = validateSchedulerConfig(defaulted, registry);
  if (errs.length > 0) return { ok: false, error: aggregateErrors(errs) };
  return { ok: true, config: defaulted };
}

/** loadConfig: decode, default and validate a --config file's contents. */
export function loadSchedulerConfig(text: string, registry: Registry): ConfigResult {
  const decoded = decodeSchedulerConfig(text);
  if (!decoded.ok) return decoded;
  return completeSchedulerConfig(decoded.config, registry);
}
