/**
 * The Pod Security Standards checks, as upstream's
 * k8s.io/pod-security-admission/policy: each check has an ID, a level and
 * one implementation per minimum policy version; reasons and details are
 * upstream's, word for word, since users (and tools) read them.
 */
import type { Level } from "./api.js";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const objs = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);
const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** The pod (or pod template) a check reads. */
export interface PodView {
  readonly annotations: Readonly<Record<string, string>>;
  readonly spec: Obj;
}

export interface CheckResult {
  readonly allowed: boolean;
  readonly reason?: string;
  readonly detail?: string;
}

export type CheckFn = (pod: PodView) => CheckResult;

export interface VersionedCheck {
  /** The 1.N minor this implementation applies from. */
  readonly minimumMinor: number;
  readonly check: CheckFn;
  /** Baseline checks this (restricted) check replaces. */
  readonly overrides?: readonly string[];
}

export interface Check {
  readonly id: string;
  readonly level: Exclude<Level, "privileged">;
  readonly versions: readonly VersionedCheck[];
}

const ALLOWED: CheckResult = { allowed: true };
const deny = (reason: string, detail: string): CheckResult => ({ allowed: false, reason, detail });

/** `"a", "b"`, as upstream's joinQuote. */
export const joinQuote = (items: readonly string[]): string => (items.length === 0 ? "" : `"${items.join('", "')}"`);
const pluralize = (singular: string, plural: string, n: number) => (n === 1 ? singular : plural);
const sorted = (s: Iterable<string>) => [...new Set(s)].sort();
/** Go's %q of a string, for the annotation values upstream quotes. */
const goQuote = (s: string) => JSON.stringify(s);

/** Init, regular, then ephemeral containers, as upstream's visitContainers. */
function containers(spec: Obj): Obj[] {
  return [...objs(spec.initContainers), ...objs(spec.containers), ...objs(spec.ephemeralContainers)];
}
const sc = (o: Obj): Obj | undefined => (isObj(o.securityContext) ? o.securityContext : undefined);
const isWindows = (spec: Obj) => isObj(spec.os) && spec.os.name === "windows";
const containerSetters = (names: readonly string[]) => `${pluralize("container", "containers", names.length)} ${joinQuote(names)}`;

// ---- baseline ----

function hostNamespaces(p: PodView): CheckResult {
  const bad = sorted(["hostNetwork", "hostPID", "hostIPC"].filter((k) => p.spec[k] === true));
  return bad.length > 0 ? deny("host namespaces", bad.join(", ")) : ALLOWED;
}

function privileged(p: PodView): CheckResult {
  const bad = containers(p.spec).filter((c) => sc(c)?.privileged === true).map((c) => str(c.name));
  return bad.length > 0 ? deny("privileged", `${containerSetters(bad)} must not set securityContext.privileged=true`) : ALLOWED;
}

const BASELINE_CAPABILITIES = new Set([
  "AUDIT_WRITE",
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "MKNOD",
  "NET_BIND_SERVICE",
  "SETFCAP",
  "SETGID",
  "SETPCAP",
  "SETUID",
  "SYS_CHROOT",
]);
const capabilityList = (c: Obj, key: "add" | "drop"): string[] => {
  const caps = sc(c)?.capabilities;
  return isObj(caps) && Array.isArray(caps[key]) ? (caps[key] as unknown[]).map(String) : [];
};

function capabilitiesBaseline(p: PodView): CheckResult {
  const bad: string[] = [];
  const caps = new Set<string>();
  for (const c of containers(p.spec)) {
    const extra = capabilityList(c, "add").filter((x) => !BASELINE_CAPABILITIES.has(x));
    if (extra.length > 0) {
      bad.push(str(c.name));
      for (const x of extra) caps.add(x);
    }
  }
  if (bad.length === 0) return ALLOWED;
  return deny("non-default capabilities", `${containerSetters(bad)} must not include ${joinQuote(sorted(caps))} in securityContext.capabilities.add`);
}

function hostPathVolumes(p: PodView): CheckResult {
  const bad = objs(p.spec.volumes).filter((v) => v.hostPath != null).map((v) => str(v.name));
  return bad.length > 0 ? deny("hostPath volumes", `${pluralize("volume", "volumes", bad.length)} ${joinQuote(bad)}`) : ALLOWED;
}

function hostPorts(p: PodView): CheckResult {
  const bad: string[] = [];
  const ports = new Set<string>();
  for (const c of containers(p.spec)) {
    const used = objs(c.ports).filter((port) => typeof port.hostPort === "number" && port.hostPort !== 0);
    if (used.length > 0) {
      bad.push(str(c.name));
      for (const port of used) ports.add(String(port.hostPort));
    }
  }
  if (bad.length === 0) return ALLOWED;
  const list = sorted(ports);
  return deny(
    "hostPort",
    `${containerSetters(bad)} ${pluralize("uses", "use", bad.length)} ${pluralize("hostPort", "hostPorts", list.length)} ${list.join(", ")}`,
  );
}

const APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/";
const allowedAppArmorAnnotation = (v: string) => v === "" || v === "runtime/default" || v.startsWith("localhost/");
const allowedAppArmorType = (t: unknown) => t === "RuntimeDefault" || t === "Localhost";
const appArmorType = (o: Obj | undefined): { set: boolean; type: string } => {
  const prof = o?.appArmorProfile;
  return isObj(prof) ? { set: true, type: str(prof.type) } : { set: false, type: "" };
};

function appArmorProfile(p: PodView): CheckResult {
  const setters: string[] = [];
  const values = new Set<string>();
  const podType = appArmorType(isObj(p.spec.securityContext) ? p.spec.securityContext : undefined);
  if (podType.set && !allowedAppArmorType(podType.type)) {
    setters.push("pod");
    values.add(podType.type);
  }
  const bad: string[] = [];
  for (const c of containers(p.spec)) {
    const t = appArmorType(sc(c));
    if (t.set && !allowedAppArmorType(t.type)) {
      bad.push(str(c.name));
      values.add(t.type);
    }
  }
  if (bad.length > 0) setters.push(containerSetters(bad));
  const annotations = Object.entries(p.annotations)
    .filter(([k, v]) => k.startsWith(APPARMOR_ANNOTATION_PREFIX) && !allowedAppArmorAnnotation(v))
    .map(([k, v]) => `${k}=${goQuote(v)}`)
    .sort();
  const valueList = [...sorted(values), ...annotations];
  if (annotations.length > 0) setters.push(pluralize("annotation", "annotations", annotations.length));
  if (setters.length === 0) return ALLOWED;
  return deny(
    pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", valueList.length),
    `${setters.join(" and ")} must not set AppArmor profile type to ${joinQuote(valueList)}`,
  );
}

const SELINUX_TYPES = new Set(["", "container_t", "container_init_t", "container_kvm_t"]);

function seLinuxOptions(p: PodView): CheckResult {
  const setters: string[] = [];
  const badTypes = new Set<string>();
  let setUser = false;
  let setRole = false;
  const valid = (o: Obj) => {
    let ok = true;
    const type = str(o.type);
    if (!SELINUX_TYPES.has(type)) {
      ok = false;
      badTypes.add(type);
    }
    if (str(o.user) !== "") {
      ok = false;
      setUser = true;
    }
    if (str(o.role) !== "") {
      ok = false;
      setRole = true;
    }
    return ok;
  };
  const podSc = isObj(p.spec.securityContext) ? p.spec.securityContext : undefined;
  if (podSc && isObj(podSc.seLinuxOptions) && !valid(podSc.seLinuxOptions)) setters.push("pod");
  const bad = containers(p.spec)
    .filter((c) => {
      const o = sc(c)?.seLinuxOptions;
      return isObj(o) && !valid(o);
    })
    .map((c) => str(c.name));
  if (bad.length > 0) setters.push(containerSetters(bad));
  if (setters.length === 0) return ALLOWED;
  const data: string[] = [];
  if (badTypes.size > 0) data.push(`${pluralize("type", "types", badTypes.size)} ${joinQuote(sorted(badTypes))}`);
  if (setUser) data.push("user may not be set");
  if (setRole) data.push("role may not be set");
  return deny("seLinuxOptions", `${setters.join(" and ")} set forbidden securityContext.seLinuxOptions: ${data.join("; ")}`);
}

function procMount(p: PodView): CheckResult {
  const bad: string[] = [];
  const types = new Set<string>();
  for (const c of containers(p.spec)) {
    const pm = sc(c)?.procMount;
    if (typeof pm === "string" && pm !== "Default") {
      bad.push(str(c.name));
      types.add(pm);
    }
  }
  if (bad.length === 0) return ALLOWED;
  return deny("procMount", `${containerSetters(bad)} must not set securityContext.procMount to ${joinQuote(sorted(types))}`);
}

const SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_PREFIX = "container.seccomp.security.alpha.kubernetes.io/";
const validSeccompAnnotation = (v: string) => v === "runtime/default" || v === "docker/default" || v.startsWith("localhost/");
const validSeccomp = (t: unknown) => t === "Localhost" || t === "RuntimeDefault";

function seccompBaselineAnnotations(p: PodView): CheckResult {
  const bad = new Set<string>();
  const podValue = p.annotations[SECCOMP_POD_ANNOTATION];
  if (podValue !== undefined && !validSeccompAnnotation(podValue)) bad.add(`${SECCOMP_POD_ANNOTATION}=${goQuote(podValue)}`);
  for (const c of containers(p.spec)) {
    const key = SECCOMP_CONTAINER_PREFIX + str(c.name);
    const v = p.annotations[key];
    if (v !== undefined && !validSeccompAnnotation(v)) bad.add(`${key}=${goQuote(v)}`);
  }
  if (bad.size === 0) return ALLOWED;
  return deny("seccompProfile", `forbidden ${pluralize("annotation", "annotations", bad.size)} ${sorted(bad).join(", ")}`);
}

const seccompType = (o: Obj | undefined): { set: boolean; type: string } => {
  const prof = o?.seccompProfile;
  return isObj(prof) ? { set: true, type: str(prof.type) } : { set: false, type: "" };
};

/** Pod and containers that set a bad seccomp type; with `requireSet`, the containers left unset too. */
function seccompProfile(p: PodView, requireSet: boolean): CheckResult {
  const setters: string[] = [];
  const values = new Set<string>();
  const pod = seccompType(isObj(p.spec.securityContext) ? p.spec.securityContext : undefined);
  let podSet = false;
  if (pod.set) {
    if (!validSeccomp(pod.type)) {
      setters.push("pod");
      values.add(pod.type);
    } else podSet = true;
  }
  const explicit: string[] = [];
  const implicit: string[] = [];
  for (const c of containers(p.spec)) {
    const t = seccompType(sc(c));
    if (t.set) {
      if (!validSeccomp(t.type)) {
        explicit.push(str(c.name));
        values.add(t.type);
      }
    } else if (!podSet) implicit.push(str(c.name));
  }
  if (explicit.length > 0) setters.push(containerSetters(explicit));
  if (setters.length > 0) {
    return deny("seccompProfile", `${setters.join(" and ")} must not set securityContext.seccompProfile.type to ${joinQuote(sorted(values))}`);
  }
  if (requireSet && implicit.length > 0) {
    return deny("seccompProfile", `pod or ${containerSetters(implicit)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`);
  }
  return ALLOWED;
}

const SYSCTLS_1_0 = [
  "kernel.shm_rmid_forced",
  "net.ipv4.ip_local_port_range",
  "net.ipv4.tcp_syncookies",
  "net.ipv4.ping_group_range",
  "net.ipv4.ip_unprivileged_port_start",
];
const SYSCTLS_1_27 = [...SYSCTLS_1_0, "net.ipv4.ip_local_reserved_ports"];
const SYSCTLS_1_29 = [...SYSCTLS_1_27, "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"];
const SYSCTLS_1_32 = [...SYSCTLS_1_29, "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"];

function sysctls(allowed: readonly string[]): CheckFn {
  const set = new Set(allowed);
  return (p) => {
    const podSc = isObj(p.spec.securityContext) ? p.spec.securityContext : {};
    const bad = objs(podSc.sysctls).map((s) => str(s.name)).filter((n) => !set.has(n));
    return bad.length > 0 ? deny("forbidden sysctls", bad.join(", ")) : ALLOWED;
  };
}

function windowsHostProcess(p: PodView): CheckResult {
  const hostProcess = (o: Obj | undefined) => isObj(o?.windowsOptions) && (o.windowsOptions as Obj).hostProcess === true;
  const setters: string[] = [];
  if (hostProcess(isObj(p.spec.securityContext) ? p.spec.securityContext : undefined)) setters.push("pod");
  const bad = containers(p.spec).filter((c) => hostProcess(sc(c))).map((c) => str(c.name));
  if (bad.length > 0) setters.push(containerSetters(bad));
  if (setters.length === 0) return ALLOWED;
  return deny("hostProcess", `${setters.join(" and ")} must not set securityContext.windowsOptions.hostProcess=true`);
}

// ---- restricted ----

/** From 1.25 a Windows pod (spec.os.name=windows) is exempt from the Linux-only restricted checks. */
const exemptWindows = (fn: CheckFn): CheckFn => (p) => (isWindows(p.spec) ? ALLOWED : fn(p));

function allowPrivilegeEscalation(p: PodView): CheckResult {
  const bad = containers(p.spec).filter((c) => sc(c)?.allowPrivilegeEscalation !== false).map((c) => str(c.name));
  return bad.length > 0 ? deny("allowPrivilegeEscalation != false", `${containerSetters(bad)} must set securityContext.allowPrivilegeEscalation=false`) : ALLOWED;
}

function capabilitiesRestricted(p: PodView): CheckResult {
  const missingDropAll: string[] = [];
  const adding: string[] = [];
  const caps = new Set<string>();
  for (const c of containers(p.spec)) {
    if (!isObj(sc(c)?.capabilities)) {
      missingDropAll.push(str(c.name));
      continue;
    }
    if (!capabilityList(c, "drop").includes("ALL")) missingDropAll.push(str(c.name));
    const extra = capabilityList(c, "add").filter((x) => x !== "NET_BIND_SERVICE");
    if (extra.length > 0) {
      adding.push(str(c.name));
      for (const x of extra) caps.add(x);
    }
  }
  const details: string[] = [];
  if (missingDropAll.length > 0) details.push(`${containerSetters(missingDropAll)} must set securityContext.capabilities.drop=["ALL"]`);
  if (adding.length > 0) details.push(`${containerSetters(adding)} must not include ${joinQuote(sorted(caps))} in securityContext.capabilities.add`);
  return details.length > 0 ? deny("unrestricted capabilities", details.join("; ")) : ALLOWED;
}

const RESTRICTED_VOLUME_ALLOWED = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];
/** The inline volume sources upstream names, in the order it tests them. */
const RESTRICTED_VOLUME_TYPES = [
  "hostPath",
  "gcePersistentDisk",
  "awsElasticBlockStore",
  "gitRepo",
  "nfs",
  "iscsi",
  "glusterfs",
  "rbd",
  "flexVolume",
  "cinder",
  "cephfs",
  "flocker",
  "fc",
  "azureFile",
  "vsphereVolume",
  "quobyte",
  "azureDisk",
  "photonPersistentDisk",
  "portworxVolume",
  "scaleIO",
  "storageos",
];

function restrictedVolumes(p: PodView): CheckResult {
  const bad: string[] = [];
  const types = new Set<string>();
  for (const v of objs(p.spec.volumes)) {
    if (RESTRICTED_VOLUME_ALLOWED.some((k) => v[k] != null)) continue;
    bad.push(str(v.name));
    types.add(RESTRICTED_VOLUME_TYPES.find((k) => v[k] != null) ?? "unknown");
  }
  if (bad.length === 0) return ALLOWED;
  return deny(
    "restricted volume types",
    `${pluralize("volume", "volumes", bad.length)} ${joinQuote(bad)} ${pluralize("uses", "use", bad.length)} ${pluralize("restricted volume type", "restricted volume types", types.size)} ${joinQuote(sorted(types))}`,
  );
}

function runAsNonRoot(p: PodView): CheckResult {
  const setters: string[] = [];
  const podSc = isObj(p.spec.securityContext) ? p.spec.securityContext : {};
  let podNonRoot = false;
  if (typeof podSc.runAsNonRoot === "boolean") {
    if (!podSc.runAsNonRoot) setters.push("pod");
    else podNonRoot = true;
  }
  const explicit: string[] = [];
  const implicit: string[] = [];
  for (const c of containers(p.spec)) {
    const v = sc(c)?.runAsNonRoot;
    if (typeof v === "boolean") {
      if (!v) explicit.push(str(c.name));
    } else if (!podNonRoot) implicit.push(str(c.name));
  }
  if (explicit.length > 0) setters.push(containerSetters(explicit));
  if (setters.length > 0) return deny("runAsNonRoot != true", `${setters.join(" and ")} must not set securityContext.runAsNonRoot=false`);
  if (implicit.length > 0) return deny("runAsNonRoot != true", `pod or ${containerSetters(implicit)} must set securityContext.runAsNonRoot=true`);
  return ALLOWED;
}

function runAsUser(p: PodView): CheckResult {
  const setters: string[] = [];
  const podSc = isObj(p.spec.securityContext) ? p.spec.securityContext : {};
  if (podSc.runAsUser === 0) setters.push("pod");
  const bad = containers(p.spec).filter((c) => sc(c)?.runAsUser === 0).map((c) => str(c.name));
  if (bad.length > 0) setters.push(containerSetters(bad));
  return setters.length > 0 ? deny("runAsUser=0", `${setters.join(" and ")} must not set runAsUser=0`) : ALLOWED;
}

/** Every check upstream registers up to 1.33 (the API version skiff serves). */
export const CHECKS: readonly Check[] = [
  { id: "appArmorProfile", level: "baseline", versions: [{ minimumMinor: 0, check: appArmorProfile }] },
  { id: "capabilities_baseline", level: "baseline", versions: [{ minimumMinor: 0, check: capabilitiesBaseline }] },
  { id: "hostNamespaces", level: "baseline", versions: [{ minimumMinor: 0, check: hostNamespaces }] },
  { id: "hostPathVolumes", level: "baseline", versions: [{ minimumMinor: 0, check: hostPathVolumes }] },
  { id: "hostPorts", level: "baseline", versions: [{ minimumMinor: 0, check: hostPorts }] },
  { id: "privileged", level: "baseline", versions: [{ minimumMinor: 0, check: privileged }] },
  { id: "procMount", level: "baseline", versions: [{ minimumMinor: 0, check: procMount }] },
  { id: "seLinuxOptions", level: "baseline", versions: [{ minimumMinor: 0, check: seLinuxOptions }] },
  {
    id: "seccompProfile_baseline",
    level: "baseline",
    versions: [
      { minimumMinor: 0, check: seccompBaselineAnnotations },
      { minimumMinor: 19, check: (p) => seccompProfile(p, false) },
    ],
  },
  {
    id: "sysctls",
    level: "baseline",
    versions: [
      { minimumMinor: 0, check: sysctls(SYSCTLS_1_0) },
      { minimumMinor: 27, check: sysctls(SYSCTLS_1_27) },
      { minimumMinor: 29, check: sysctls(SYSCTLS_1_29) },
      { minimumMinor: 32, check: sysctls(SYSCTLS_1_32) },
    ],
  },
  { id: "windowsHostProcess", level: "baseline", versions: [{ minimumMinor: 0, check: windowsHostProcess }] },
  {
    id: "allowPrivilegeEscalation",
    level: "restricted",
    versions: [
      { minimumMinor: 8, check: allowPrivilegeEscalation },
      { minimumMinor: 25, check: exemptWindows(allowPrivilegeEscalation) },
    ],
  },
  {
    id: "capabilities_restricted",
    level: "restricted",
    versions: [
      { minimumMinor: 22, check: capabilitiesRestricted, overrides: ["capabilities_baseline"] },
      { minimumMinor: 25, check: exemptWindows(capabilitiesRestricted), overrides: ["capabilities_baseline"] },
    ],
  },
  { id: "restrictedVolumes", level: "restricted", versions: [{ minimumMinor: 0, check: restrictedVolumes, overrides: ["hostPathVolumes"] }] },
  { id: "runAsNonRoot", level: "restricted", versions: [{ minimumMinor: 0, check: runAsNonRoot }] },
  { id: "runAsUser", level: "restricted", versions: [{ minimumMinor: 23, check: runAsUser }] },
  {
    id: "seccompProfile_restricted",
    level: "restricted",
    versions: [
      { minimumMinor: 19, check: (p) => seccompProfile(p, true), overrides: ["seccompProfile_baseline"] },
      { minimumMinor: 25, check: exemptWindows((p) => seccompProfile(p, true)), overrides: ["seccompProfile_baseline"] },
    ],
  },
];
