/**
 * Pod Security levels, versions and namespace labels, as upstream's
 * k8s.io/pod-security-admission/api: `pod-security.kubernetes.io/<mode>`
 * holds a level and `<mode>-version` a version (`latest` or `v1.N`); a
 * namespace without labels gets the default policy (privileged:latest).
 */
import type { FieldError } from "../../../machinery/status-error.js";

export type Level = "privileged" | "baseline" | "restricted";
export const LEVELS: readonly Level[] = ["privileged", "baseline", "restricted"];

/** A policy version: a 1.N minor, or latest. */
export type Version = { readonly latest: true } | { readonly latest: false; readonly minor: number };
export const LATEST: Version = { latest: true };
export const v1 = (minor: number): Version => ({ latest: false, minor });

export interface LevelVersion {
  readonly level: Level;
  readonly version: Version;
}

export interface Policy {
  readonly enforce: LevelVersion;
  readonly audit: LevelVersion;
  readonly warn: LevelVersion;
}

export const LABEL_PREFIX = "pod-security.kubernetes.io/";
export const ENFORCE_LEVEL_LABEL = `${LABEL_PREFIX}enforce`;
export const ENFORCE_VERSION_LABEL = `${LABEL_PREFIX}enforce-version`;
export const AUDIT_LEVEL_LABEL = `${LABEL_PREFIX}audit`;
export const AUDIT_VERSION_LABEL = `${LABEL_PREFIX}audit-version`;
export const WARN_LEVEL_LABEL = `${LABEL_PREFIX}warn`;
export const WARN_VERSION_LABEL = `${LABEL_PREFIX}warn-version`;

/** Upstream prints an unparsable version (its zero Version) as v0.0. */
export const versionString = (v: Version): string => (v.latest ? "latest" : v.minor < 0 ? "v0.0" : `v1.${v.minor}`);
/** `restricted:latest`, as upstream's LevelVersion.String(). */
export const levelVersionString = (lv: LevelVersion): string => `${lv.level}:${versionString(lv.version)}`;
export const sameLevelVersion = (a: LevelVersion, b: LevelVersion): boolean => levelVersionString(a) === levelVersionString(b);

/** -1, 0 or 1 as `a` is less, as or more restrictive than `b`. */
export function compareLevels(a: Level, b: Level): number {
  return Math.sign(LEVELS.indexOf(a) - LEVELS.indexOf(b));
}

/** Upstream's ParseLevel: an unknown level fails closed (restricted). */
export function parseLevel(s: string): { level: Level; error?: string } {
  if ((LEVELS as readonly string[]).includes(s)) return { level: s as Level };
  return { level: "restricted", error: `must be one of ${LEVELS.join(", ")}` };
}

/** Upstream's ParseVersion: `latest` or `v1.N`. */
export function parseVersion(s: string): { version: Version; error?: string } {
  if (s === "latest") return { version: LATEST };
  const m = /^v1\.(0|[1-9][0-9]*)$/.exec(s);
  // Upstream's zero Version: older than every check, so it checks nothing.
  if (!m) return { version: v1(-1), error: `must be "latest" or "v1.x"` };
  return { version: v1(Number(m[1])) };
}

export const DEFAULT_POLICY: Policy = {
  enforce: { level: "privileged", version: LATEST },
  audit: { level: "privileged", version: LATEST },
  warn: { level: "privileged", version: LATEST },
};

/**
 * The policy a namespace's labels ask for, with a field error per bad
 * label, as upstream's PolicyToEvaluate: a bad enforce label fails closed,
 * bad audit and warn labels fail open, and warn defaults to a stricter
 * explicit enforce level.
 */
export function policyToEvaluate(labels: Readonly<Record<string, string>> | undefined, defaults: Policy = DEFAULT_POLICY): { policy: Policy; errors: FieldError[] } {
  const errors: FieldError[] = [];
  let enforce = { ...defaults.enforce };
  const audit = { ...defaults.audit };
  const warn = { ...defaults.warn };
  if (!labels || Object.keys(labels).length === 0) return { policy: defaults, errors };
  const bad = (label: string, value: string, detail: string) =>
    errors.push({ type: "FieldValueInvalid", field: `metadata.labels[${label}]`, detail, value });
  let hasEnforceLevel = false;
  const el = labels[ENFORCE_LEVEL_LABEL];
  if (el !== undefined) {
    const r = parseLevel(el);
    enforce.level = r.level;
    hasEnforceLevel = !r.error;
    if (r.error) bad(ENFORCE_LEVEL_LABEL, el, r.error);
  }
  const ev = labels[ENFORCE_VERSION_LABEL];
  if (ev !== undefined) {
    const r = parseVersion(ev);
    enforce.version = r.version;
    if (r.error) {
      bad(ENFORCE_VERSION_LABEL, ev, r.error);
      enforce = { level: "restricted", version: LATEST };
    }
  }
  const al = labels[AUDIT_LEVEL_LABEL];
  if (al !== undefined) {
    const r = parseLevel(al);
    audit.level = r.error ? "privileged" : r.level;
    if (r.error) bad(AUDIT_LEVEL_LABEL, al, r.error);
  }
  const av = labels[AUDIT_VERSION_LABEL];
  if (av !== undefined) {
    const r = parseVersion(av);
    audit.version = r.version;
    if (r.error) bad(AUDIT_VERSION_LABEL, av, r.error);
  }
  const wl = labels[WARN_LEVEL_LABEL];
  if (wl !== undefined) {
    const r = parseLevel(wl);
    warn.level = r.error ? "privileged" : r.level;
    if (r.error) bad(WARN_LEVEL_LABEL, wl, r.error);
  }
  const wv = labels[WARN_VERSION_LABEL];
  if (wv !== undefined) {
    const r = parseVersion(wv);
    warn.version = r.version;
    if (r.error) bad(WARN_VERSION_LABEL, wv, r.error);
  }
  if (wl === undefined && hasEnforceLevel && compareLevels(enforce.level, warn.level) > 0) {
    warn.level = enforce.level;
    if (wv === undefined) warn.version = enforce.version;
  }
  return { policy: { enforce, audit, warn }, errors };
}
