/**
 * Builds a container's OCI runtime spec (`config.json`) from what the
 * kubelet asked for (ContainerConfig), the image's config and the sandbox,
 * following Kubernetes and containerd semantics. Pure: no I/O, so every
 * rule is unit-tested.
 */
import type { ImageRunConfig } from "../images/types.js";
import type { ContainerConfig, Mount } from "../types.js";
import {
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_PATH_ENV,
  DEFAULT_READONLY_PATHS,
} from "./oci-defaults.js";
import type { ResolvedUser } from "./user.js";

/** An OCI mount (runtime-spec `mounts[]`). */
export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

/** The parts of the OCI runtime spec this runtime writes. */
export interface OciSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: { bounding: string[]; effective: string[]; permitted: string[] };
    rlimits: { type: string; hard: number; soft: number }[];
    noNewPrivileges: boolean;
    oomScoreAdj?: number;
  };
  root: { path: string; readonly: boolean };
  hostname?: string;
  mounts: OciMount[];
  annotations: Record<string, string>;
  linux: {
    namespaces: { type: string; path?: string }[];
    cgroupsPath: string;
    resources: {
      devices: { allow: boolean; access: string }[];
      memory?: { limit: number };
      cpu?: { shares?: number; quota?: number; period?: number };
    };
    rootfsPropagation: string;
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

/** Where a container finds its sandbox's shared pieces. */
export interface SandboxRefs {
  readonly sandboxId: string;
  /** The pod's network namespace; undefined for host network (the container stays in the host's). */
  readonly netnsPath?: string;
  readonly ipcNsPath: string;
  /** The pod's UTS namespace; undefined for host network (hostname is the node's). */
  readonly utsNsPath?: string;
  readonly hostname: string;
  readonly shmPath: string;
  readonly hostsPath: string;
  readonly resolvConfPath: string;
  readonly hostnamePath: string;
}

/** Everything {@link buildSpec} needs. */
export interface SpecInput {
  readonly config: ContainerConfig;
  readonly image: ImageRunConfig;
  readonly rootfs: string;
  readonly user: ResolvedUser;
  readonly cgroupsPath: string;
  readonly sandbox: SandboxRefs;
  /** Whether the host runs cgroup v2 (containers then get a private cgroup namespace, as containerd does). */
  readonly cgroupV2: boolean;
  /** RLIMIT_NOFILE (soft = hard) of the container's processes (see containerNofile). */
  readonly nofile: number;
}

/**
 * The process's argv under Kubernetes rules: `command` replaces the image's
 * Entrypoint, `args` replaces its Cmd, and a `command` without `args`
 * drops the image's Cmd too.
 */
export function processArgs(config: Pick<ContainerConfig, "command" | "args">, image: Pick<ImageRunConfig, "entrypoint" | "cmd">): string[] {
  if (config.command.length > 0) return [...config.command, ...config.args];
  if (config.args.length > 0) return [...image.entrypoint, ...config.args];
  return [...image.entrypoint, ...image.cmd];
}

/**
 * The environment: the image's, then HOSTNAME, then the container's own
 * variables, each later one replacing an earlier one of the same name in
 * place. PATH falls back to the default when nothing sets it.
 */
export function processEnv(imageEnv: readonly string[], hostname: string, envs: ContainerConfig["envs"], tty: boolean): string[] {
  const order: string[] = [];
  const values = new Map<string, string>();
  const set = (key: string, entry: string) => {
    if (!values.has(key)) order.push(key);
    values.set(key, entry);
  };
  const keyOf = (entry: string) => {
    const i = entry.indexOf("=");
    return i < 0 ? entry : entry.slice(0, i);
  };
  if (!imageEnv.some((e) => keyOf(e) === "PATH")) set("PATH", DEFAULT_PATH_ENV);
  for (const e of imageEnv) set(keyOf(e), e);
  set("HOSTNAME", `HOSTNAME=${hostname}`);
  if (tty) set("TERM", "TERM=xterm");
  for (const { key, value } of envs) set(key, `${key}=${value}`);
  return order.map((k) => values.get(k)!);
}

/** Bind-mount options and the rootfs propagation a CRI mount needs. */
function userMount(m: Mount): { mount: OciMount; propagation?: "rshared" | "rslave" } {
  const options = ["rbind"];
  let propagation: "rshared" | "rslave" | undefined;
  switch (m.propagation ?? "private") {
    case "private":
      options.push("rprivate");
      break;
    case "host-to-container":
      options.push("rslave");
      propagation = "rslave";
      break;
    case "bidirectional":
      options.push("rshared");
      propagation = "rshared";
      break;
  }
  options.push(m.readonly ? "ro" : "rw");
  return { mount: { destination: m.containerPath, type: "bind", source: m.hostPath, options }, ...(propagation ? { propagation } : {}) };
}

/** Problems with the container's mounts that the spec cannot express; undefined when fine. */
export function mountProblem(mounts: readonly Mount[]): string | undefined {
  const seen = new Set<string>();
  for (const m of mounts) {
    if (!m.containerPath.startsWith("/")) return `mount destination ${JSON.stringify(m.containerPath)} is not an absolute path`;
    if (!m.hostPath.startsWith("/")) return `mount source ${JSON.stringify(m.hostPath)} is not an absolute path`;
    const dest = m.containerPath.replace(/\/+$/, "") || "/";
    if (dest === "/") return "cannot mount over the container's root directory";
    if (seen.has(dest)) return `duplicate mount destination ${JSON.stringify(dest)}`;
    seen.add(dest);
    if (m.propagation && !["private", "host-to-container", "bidirectional"].includes(m.propagation)) {
      return `unsupported mount propagation ${JSON.stringify(m.propagation)}`;
    }
  }
  return undefined;
}

const depth = (p: string) => p.split("/").filter(Boolean).length;

/** The OCI spec of a container: see the module comment. */
export function buildSpec(input: SpecInput): OciSpec {
  const { config, image, sandbox } = input;
  const tty = config.tty === true;
  const userDests = new Set(config.mounts.map((m) => m.containerPath.replace(/\/+$/, "")));

  const mounts: OciMount[] = [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"] },
  ];
  // The pod's shared pieces, unless the container mounts its own at the same place (as containerd).
  const podMounts: [string, string, string[]][] = [
    ["/dev/shm", sandbox.shmPath, ["rbind", "nosuid", "nodev", "noexec", "rw"]],
    ["/etc/hosts", sandbox.hostsPath, ["rbind", "rprivate", "rw"]],
    ["/etc/resolv.conf", sandbox.resolvConfPath, ["rbind", "rprivate", "rw"]],
    ["/etc/hostname", sandbox.hostnamePath, ["rbind", "rprivate", "rw"]],
  ];
  for (const [dest, source, options] of podMounts) {
    if (!userDests.has(dest)) mounts.push({ destination: dest, type: "bind", source, options });
  }
  let rootfsPropagation = "rprivate";
  // Parents before children, so a mount inside another volume lands in it (containerd sorts the same way).
  const sorted = [...config.mounts].sort((a, b) => depth(a.containerPath) - depth(b.containerPath));
  for (const m of sorted) {
    const { mount, propagation } = userMount(m);
    mounts.push(mount);
    if (propagation === "rshared") rootfsPropagation = "rshared";
    else if (propagation === "rslave" && rootfsPropagation !== "rshared") rootfsPropagation = "rslave";
  }

  const namespaces: { type: string; path?: string }[] = [{ type: "pid" }, { type: "mount" }, { type: "ipc", path: sandbox.ipcNsPath }];
  if (sandbox.utsNsPath) namespaces.push({ type: "uts", path: sandbox.utsNsPath });
  if (sandbox.netnsPath) namespaces.push({ type: "network", path: sandbox.netnsPath });
  if (input.cgroupV2) namespaces.push({ type: "cgroup" });

  const r = config.resources ?? {};
  const resources: OciSpec["linux"]["resources"] = { devices: [{ allow: false, access: "rwm" }] };
  if (r.memoryLimitInBytes && r.memoryLimitInBytes > 0) resources.memory = { limit: r.memoryLimitInBytes };
  const cpu: { shares?: number; quota?: number; period?: number } = {};
  if (r.cpuShares && r.cpuShares > 0) cpu.shares = r.cpuShares;
  if (r.cpuQuota && r.cpuQuota > 0) cpu.quota = r.cpuQuota;
  if (r.cpuPeriod && r.cpuPeriod > 0) cpu.period = r.cpuPeriod;
  if (Object.keys(cpu).length > 0) resources.cpu = cpu;

  const caps = [...DEFAULT_CAPABILITIES];
  const spec: OciSpec = {
    ociVersion: "1.0.2",
    process: {
      terminal: tty,
      user: {
        uid: input.user.uid,
        gid: input.user.gid,
        ...(input.user.additionalGids.length > 0 ? { additionalGids: [...input.user.additionalGids] } : {}),
      },
      args: processArgs(config, image),
      env: processEnv(image.env, sandbox.hostname, config.envs, tty),
      cwd: config.workingDir || image.workingDir || "/",
      capabilities: { bounding: caps, effective: [...caps], permitted: [...caps] },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: input.nofile, soft: input.nofile }],
      noNewPrivileges: false,
      ...(r.oomScoreAdj !== undefined ? { oomScoreAdj: r.oomScoreAdj } : {}),
    },
    root: { path: input.rootfs, readonly: false },
    ...(sandbox.utsNsPath ? { hostname: sandbox.hostname } : {}),
    mounts,
    annotations: {
      "io.kubernetes.cri.container-type": "container",
      "io.kubernetes.cri.container-name": config.metadata.name,
      "io.kubernetes.cri.sandbox-id": sandbox.sandboxId,
    },
    linux: {
      namespaces,
      cgroupsPath: input.cgroupsPath,
      resources,
      rootfsPropagation,
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
  return spec;
}
