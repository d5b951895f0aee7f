/**
 * The on-disk records of sandboxes and containers. They are the runtime's
 * memory across agent restarts: written atomically on every change, read
 * back by a new runtime object on the same root directory.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import type { ContainerConfig, ContainerState, PodSandboxConfig, PodSandboxState } from "../types.js";
import type { RuncPaths } from "./paths.js";

/** Bumped when a record's shape changes incompatibly. */
export const STATE_VERSION = 1;

/** A sandbox as persisted (`sandboxes/<id>/sandbox.json`). */
export interface SandboxRecord {
  readonly version: number;
  readonly id: string;
  readonly config: PodSandboxConfig;
  readonly createdAt: number;
  state: PodSandboxState;
  /** Pod IPs while ready; emptied when the network is torn down. */
  ips: string[];
  /** The network namespace (absent for host network or once torn down). */
  netnsPath?: string;
  /** The pod's hostname (what the UTS namespace and /etc/hostname say). */
  readonly hostname: string;
  /** The pod's cgroup (cgroupfs path, e.g. `/skiff/pod<uid>`); containers live below it. */
  readonly podCgroup: string;
  /** Whether the pod has its own UTS namespace pinned at `ns/uts` (not with host network). */
  readonly ownUts: boolean;
}

/** A container as persisted (`containers/<id>/container.json`). */
export interface ContainerRecord {
  readonly version: number;
  readonly id: string;
  readonly sandboxId: string;
  readonly config: ContainerConfig;
  readonly imageRef: string;
  readonly createdAt: number;
  state: ContainerState;
  startedAt: number;
  finishedAt: number;
  exitCode: number;
  reason: string;
  message: string;
  /** Host pid of the container's main process (0 before create finished). */
  pid: number;
  /** Absolute log file path (conmon's k8s-file). */
  readonly logPath: string;
  /** runc's cgroupsPath of the container. */
  readonly cgroupsPath: string;
  /** Signal `stopContainer` sends first (image StopSignal, else SIGTERM). */
  readonly stopSignal: string;
  /** The name conmon was given (`k8s_<ctr>_<pod>_<ns>_<uid>_<attempt>`). */
  readonly name: string;
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch {
    return undefined;
  }
}

/**
 * Replaces `file` by rename, so a killed agent leaves the old or the new
 * record, never half of one. No fsync: the records must survive the agent
 * (the page cache does), not the machine — after a power loss no container
 * runs anyway, and adoption reconciles what the records say with what is.
 * Skipping it keeps three disk flushes off every pod start.
 */
function replaceFile(file: string, data: string): void {
  const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    writeFileSync(tmp, data, { mode: 0o600 });
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Persists `rec` (see replaceFile). */
export function saveSandbox(paths: RuncPaths, rec: SandboxRecord): void {
  replaceFile(paths.sandboxState(rec.id), JSON.stringify(rec));
}

/** Persists `rec` (see replaceFile). */
export function saveContainer(paths: RuncPaths, rec: ContainerRecord): void {
  replaceFile(paths.containerState(rec.id), JSON.stringify(rec));
}

/** What {@link loadState} found, plus directories without a readable record (half-created, to clean up). */
export interface LoadedState {
  readonly sandboxes: SandboxRecord[];
  readonly containers: ContainerRecord[];
  readonly orphanSandboxDirs: string[];
  readonly orphanContainerDirs: string[];
}

/** Reads every record under the root. */
export function loadState(paths: RuncPaths): LoadedState {
  const out: LoadedState = { sandboxes: [], containers: [], orphanSandboxDirs: [], orphanContainerDirs: [] };
  const list = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);
  for (const id of list(paths.sandboxesDir)) {
    const rec = readJson<SandboxRecord>(paths.sandboxState(id));
    if (rec && rec.id === id && rec.version === STATE_VERSION) out.sandboxes.push(rec);
    else out.orphanSandboxDirs.push(id);
  }
  for (const id of list(paths.containersDir)) {
    const rec = readJson<ContainerRecord>(paths.containerState(id));
    if (rec && rec.id === id && rec.version === STATE_VERSION) out.containers.push(rec);
    else out.orphanContainerDirs.push(id);
  }
  return out;
}
