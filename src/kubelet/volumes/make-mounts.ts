/**
 * A container's mounts from its volumeMounts (upstream kubelet_pods.go
 * makeMounts and kuberuntime's termination-message mount): each mount's
 * prepared volume, subPath/subPathExpr made safe, read-only when the mount
 * or the volume says so, propagation translated; then the managed
 * /etc/hosts and a fresh termination-message file. Errors carry upstream's
 * messages; they become the container's CreateContainerConfigError.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join, posix } from "node:path";
import type { Container, Pod, VolumeMount } from "kubernetes-types/core/v1.js";
import type { Logger } from "../../machinery/log.js";
import type { KeyValue, Mount } from "../../runtime/types.js";
import { expandSubPathExpr } from "../pod/env.js";
import { goError } from "./go-errors.js";
import { ensureHostsFile } from "./etc-hosts.js";
import type { Mounter } from "./mounter.js";
import { isSafeSegment, podContainerDir, podEtcHostsPath } from "./paths.js";
import type { SetUpVolume } from "./plugin.js";
import { prepareSubpath } from "./subpath.js";

/** Mounts, or why the container cannot be configured. */
export type MountsResult = { readonly ok: true; readonly mounts: Mount[] } | { readonly ok: false; readonly message: string };

/** What {@link makeMounts} needs. */
export interface MakeMountsInput {
  readonly pod: Pod;
  readonly container: Container;
  /** The container's final environment (for subPathExpr). */
  readonly envs: readonly KeyValue[];
  /** The pod's IPs (the node's for host-network pods): /etc/hosts is managed once there are any. */
  readonly podIPs: readonly string[];
  /** The pod's prepared volumes by name. */
  readonly volumes: ReadonlyMap<string, SetUpVolume>;
  readonly rootDir: string;
  readonly mounter: Mounter;
  readonly logger: Logger;
  /** e.g. "cluster.local", for the hosts file's FQDN of pods with a subdomain. */
  readonly clusterDomain: string;
}

const ETC_HOSTS = "/etc/hosts";

/** upstream translateMountPropagation. */
function propagationOf(m: VolumeMount, container: Container): { ok: true; value: Mount["propagation"] } | { ok: false; message: string } {
  switch (m.mountPropagation ?? "None") {
    case "None":
      return { ok: true, value: "private" };
    case "HostToContainer":
      return { ok: true, value: "host-to-container" };
    case "Bidirectional":
      // The API server's validation says this; skiff's does not check it yet, so the kubelet does.
      if (container.securityContext?.privileged !== true) return { ok: false, message: "Bidirectional mount propagation is available only to privileged containers" };
      return { ok: true, value: "bidirectional" };
    default:
      return { ok: false, message: `invalid MountPropagation mode: "${m.mountPropagation}"` };
  }
}

/**
 * upstream resolveRecursiveReadOnly with a runtime that has no recursive
 * read-only mounts (the CRI Mount here has no such field): IfPossible reads
 * as plain read-only, Enabled is refused.
 */
function recursiveReadOnlyError(m: VolumeMount): string | undefined {
  const mode = m.recursiveReadOnly;
  if (mode === undefined || mode === "Disabled") return undefined;
  let why: string;
  if (!m.readOnly) why = `volume "${m.name}" requested recursive read-only mode, but it is not read-only`;
  else if (m.mountPropagation && m.mountPropagation !== "None") {
    why = `volume "${m.name}" requested recursive read-only mode, but it is not compatible with propagation "${m.mountPropagation}"`;
  } else if (mode === "IfPossible") return undefined;
  else if (mode === "Enabled") why = `volume "${m.name}" requested recursive read-only mode, but it is not supported by the runtime`;
  else why = `unknown recursive read-only mode "${mode}"`;
  return `failed to resolve recursive read-only mode: ${why}`;
}

/** The container's mounts (see the file comment), without the termination-message file. */
export async function makeMounts(inp: MakeMountsInput): Promise<MountsResult> {
  const { pod, container } = inp;
  const uid = pod.metadata?.uid ?? "";
  if ((container.volumeDevices ?? []).length > 0) {
    return { ok: false, message: `skiff does not support volumeDevices (raw block volumes) in container "${container.name}"` };
  }
  let mountEtcHosts = inp.podIPs.length > 0;
  const mounts: Mount[] = [];
  const vms = container.volumeMounts ?? [];
  for (let i = 0; i < vms.length; i++) {
    const m = vms[i]!;
    // A container that mounts its own /etc/hosts keeps it.
    if (m.mountPath === ETC_HOSTS) mountEtcHosts = false;
    const vol = inp.volumes.get(m.name);
    if (!vol) return { ok: false, message: `cannot find volume "${m.name}" to mount into container "${container.name}"` };
    let hostPath = vol.path;
    let subPath = m.subPath ?? "";
    if (m.subPathExpr) {
      const e = expandSubPathExpr(m.subPathExpr, inp.envs);
      if (!e.ok) return { ok: false, message: e.message };
      subPath = e.value;
    }
    if (subPath !== "") {
      if (!isSafeSegment(container.name) || !isSafeSegment(m.name)) return { ok: false, message: `invalid volume or container name for a subPath mount: "${m.name}", "${container.name}"` };
      const sp = await prepareSubpath(
        { rootDir: inp.rootDir, podUid: uid, volumeName: m.name, containerName: container.name, volumeMountIndex: i, volumePath: vol.path, subPath },
        inp.mounter,
        inp.logger,
      );
      if (!sp.ok) return { ok: false, message: sp.message };
      hostPath = sp.hostPath;
    }
    const prop = propagationOf(m, container);
    if (!prop.ok) return { ok: false, message: prop.message };
    const rro = recursiveReadOnlyError(m);
    if (rro) return { ok: false, message: rro };
    const containerPath = posix.isAbsolute(m.mountPath) ? m.mountPath : `/${m.mountPath}`;
    mounts.push({ containerPath, hostPath, readonly: m.readOnly === true || vol.readOnly, propagation: prop.value });
  }
  if (mountEtcHosts) {
    const path = podEtcHostsPath(inp.rootDir, uid);
    try {
      await mkdir(join(path, ".."), { recursive: true, mode: 0o750 });
      await ensureHostsFile(path, pod, inp.podIPs, inp.clusterDomain);
    } catch (e) {
      return { ok: false, message: goError(e) };
    }
    mounts.push({ containerPath: ETC_HOSTS, hostPath: path, readonly: false, propagation: "private" });
  }
  return { ok: true, mounts };
}

/**
 * kuberuntime's termination-message mount: a new empty file (mode 0666)
 * `pods/<uid>/containers/<name>/<8 hex>` bound at the container's
 * terminationMessagePath, fresh for every instance of the container. The
 * status side reads it back from the container status' mounts (the mount
 * whose containerPath is the terminationMessagePath). Undefined when the
 * path is empty or the file cannot be made (logged; the container still
 * runs, as upstream).
 */
export async function terminationMessageMount(rootDir: string, pod: Pod, container: Container, logger: Logger): Promise<Mount | undefined> {
  const path = container.terminationMessagePath ?? "/dev/termination-log";
  if (path === "") return undefined;
  const uid = pod.metadata?.uid ?? "";
  if (!isSafeSegment(uid) || !isSafeSegment(container.name)) return undefined;
  const dir = podContainerDir(rootDir, uid, container.name);
  const file = join(dir, randomBytes(4).toString("hex"));
  try {
    await mkdir(dir, { recursive: true, mode: 0o750 });
    await writeFile(file, "", { flag: "wx" });
    await chmod(file, 0o666);
  } catch (e) {
    logger.warn("error on creating termination-log file", { pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, path: file, err: goError(e) });
    return undefined;
  }
  return { containerPath: posix.isAbsolute(path) ? path : `/${path}`, hostPath: file };
}
