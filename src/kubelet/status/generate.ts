/**
 * A pod's API status from what the runtime reports, as upstream's kubelet
 * computes it (kubelet_pods.go generateAPIPodStatus, getPhase,
 * convertToAPIContainerStatuses; status/generate.go for the conditions).
 * Pure functions: the same inputs give the same status, so the rules are
 * unit-tested table by table. Transition times and startTime are the
 * status manager's (see {@link normalizeStatus}).
 */
import type {
  Container,
  ContainerState,
  ContainerStatus,
  Pod,
  PodCondition,
  PodSpec,
  PodStatus,
} from "kubernetes-types/core/v1.js";
import { goSlice } from "../go-format.js";
import { isRestartableInit, shouldContainerBeRestarted } from "../pod/container-rules.js";
import type { RuntimeContainer, RuntimePodStatus } from "../pod/runtime-pod-status.js";

/** Why a container is not running, from the last sync (upstream's reasonCache entry). */
export interface ReasonEntry {
  /** e.g. CrashLoopBackOff, ErrImagePull, ImagePullBackOff, CreateContainerError. */
  readonly reason: string;
  readonly message: string;
}

/**
 * Probe outcomes for a container, as the prober manager caches them
 * (prober/manager.ts; upstream's UpdatePodStatus asks the same).
 * `containerId` is the runtime's id, without the `scheme://`.
 */
export interface ProbeResults {
  /** Startup probe passed (true when there is none). Only asked for running containers. */
  started(pod: Pod, container: Container, containerId: string): boolean;
  /**
   * Readiness probe passed (true when there is none). Only asked for
   * started, running containers; may ask for a probe run at once when it
   * has no success yet (upstream's manual trigger).
   */
  ready(pod: Pod, container: Container, containerId: string): boolean;
}

/** Probes that always pass: what a pod without probes sees. */
export const NO_PROBES: ProbeResults = { started: () => true, ready: () => true };

/** Inputs of {@link generateAPIPodStatus}. */
export interface StatusInputs {
  readonly pod: Pod;
  readonly runtime: RuntimePodStatus;
  /** The status manager's last status for the pod, else the API's. */
  readonly oldStatus: PodStatus;
  /** Start failures by container name. */
  readonly reasons: ReadonlyMap<string, ReasonEntry>;
  /** The pod will run no more containers (its worker is terminating it). */
  readonly podIsTerminal: boolean;
  readonly hostIPs: readonly string[];
  /** Scheme of container IDs, e.g. `sim`. */
  readonly runtimeType: string;
  readonly probes?: ProbeResults;
}

/** Kubelet-owned condition types (upstream PodConditionsByKubelet plus PodReadyToStartContainers). */
export const KUBELET_CONDITIONS: ReadonlySet<string> = new Set(["PodScheduled", "Ready", "Initialized", "ContainersReady", "PodReadyToStartContainers"]);

const CONTAINER_CREATING = "ContainerCreating";
const POD_INITIALIZING = "PodInitializing";

/** RFC 3339 with whole seconds, as metav1.Time serializes. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

function convertContainerStatus(cs: RuntimeContainer, old: ContainerStatus | undefined, runtimeType: string): ContainerStatus {
  const cid = `${runtimeType}://${cs.id}`;
  const status: ContainerStatus = {
    name: cs.name,
    state: {},
    lastState: {},
    ready: false,
    restartCount: cs.restartCount,
    image: cs.image,
    imageID: cs.imageRef,
    containerID: cid,
  };
  if (cs.state === "running") {
    status.state = { running: { startedAt: rfc3339(cs.startedAt) } };
  } else if (cs.state === "created") {
    // Created but not running: "waiting to be running".
    status.state = { waiting: {} };
  } else if (cs.state === "exited") {
    status.state = {
      terminated: {
        exitCode: cs.exitCode,
        ...(cs.reason ? { reason: cs.reason } : {}),
        ...(cs.message ? { message: cs.message } : {}),
        ...(cs.startedAt ? { startedAt: rfc3339(cs.startedAt) } : {}),
        ...(cs.finishedAt ? { finishedAt: rfc3339(cs.finishedAt) } : {}),
        containerID: cid,
      },
    };
  } else if (old?.state?.running) {
    // It ran and the runtime lost it: it did not "never run".
    status.state = { terminated: { reason: "ContainerStatusUnknown", message: "The container could not be located when the pod was terminated", exitCode: 137 } };
    status.restartCount = (old.restartCount ?? 0) + 1;
  } else {
    status.state = { waiting: {} };
  }
  return status;
}

/** upstream convertToAPIContainerStatuses for one list (regular or init containers). */
export function convertContainerStatuses(
  inp: StatusInputs,
  previous: readonly ContainerStatus[] | undefined,
  containers: readonly Container[],
  hasInitContainers: boolean,
  isInit: boolean,
): ContainerStatus[] {
  const { pod, runtime } = inp;
  const oldByName = new Map<string, ContainerStatus>();
  for (const s of previous ?? []) oldByName.set(s.name, s);
  const defaultWaiting: ContainerState = { waiting: { reason: hasInitContainers ? POD_INITIALIZING : CONTAINER_CREATING } };

  const statuses = new Map<string, ContainerStatus>();
  for (const c of containers) {
    let status: ContainerStatus = { name: c.name, image: c.image ?? "", imageID: "", ready: false, restartCount: 0, state: structuredClone(defaultWaiting), lastState: {} };
    const old = oldByName.get(c.name);
    if (old) {
      if (old.state?.terminated) status = structuredClone(old);
      else {
        status.restartCount = old.restartCount;
        status.lastState = structuredClone(old.lastState ?? {});
      }
    }
    statuses.set(c.name, status);
  }

  // A container that was running and vanished from the runtime terminated somehow.
  for (const c of containers) {
    if (runtime.containers.some((s) => s.name === c.name)) continue;
    const old = oldByName.get(c.name);
    if (!old || old.state?.terminated || !old.state?.running) continue;
    const status = statuses.get(c.name)!;
    const isDefault = status.state?.waiting?.reason === (hasInitContainers ? POD_INITIALIZING : CONTAINER_CREATING);
    if (!isDefault || status.lastState?.terminated) continue;
    status.lastState = {
      terminated: { reason: "ContainerStatusUnknown", message: "The container could not be located when the pod was deleted.  The container used to be Running", exitCode: 137 },
    };
    if (!pod.metadata?.deletionTimestamp) status.restartCount = (status.restartCount ?? 0) + 1;
  }

  // The newest instance is the state, the one before it the last state.
  const seen = new Map<string, number>();
  for (const cs of runtime.containers) {
    if (!statuses.has(cs.name)) continue;
    const n = seen.get(cs.name) ?? 0;
    if (n >= 2) continue;
    const converted = convertContainerStatus(cs, oldByName.get(cs.name), inp.runtimeType);
    if (n === 0) statuses.set(cs.name, converted);
    else statuses.get(cs.name)!.lastState = converted.state;
    seen.set(cs.name, n + 1);
  }

  // Containers that failed to start, or wait for a restart, show why.
  for (const c of containers) {
    if (isInit) {
      const latest = runtime.containers.find((s) => s.name === c.name);
      if (latest && latest.state === "exited" && latest.exitCode === 0) continue;
    }
    if (!shouldContainerBeRestarted(c, pod, runtime)) continue;
    const why = inp.reasons.get(c.name);
    if (!why) continue;
    const status = statuses.get(c.name)!;
    if (status.state?.terminated) status.lastState = status.state;
    status.state = { waiting: { reason: why.reason, ...(why.message ? { message: why.message } : {}) } };
  }

  if (isInit) return containers.map((c) => statuses.get(c.name)!);
  return [...statuses.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Sets `started` and `ready` as upstream's prober manager's UpdatePodStatus. */
function applyProbes(inp: StatusInputs, status: PodStatus): void {
  const probes = inp.probes ?? NO_PROBES;
  const spec = inp.pod.spec;
  const idOf = (s: ContainerStatus) => (s.containerID ?? "").replace(/^[^:]*:\/\//, "");
  for (const s of status.containerStatuses ?? []) {
    const c = spec?.containers.find((x) => x.name === s.name);
    const started = !!s.state?.running && !!c && probes.started(inp.pod, c, idOf(s));
    s.started = started;
    if (!started) continue;
    s.ready = !!c && probes.ready(inp.pod, c, idOf(s));
  }
  for (const s of status.initContainerStatuses ?? []) {
    const c = spec?.initContainers?.find((x) => x.name === s.name);
    const started = !!s.state?.running && !!c && probes.started(inp.pod, c, idOf(s));
    s.started = started;
    if (!isRestartableInit(c)) {
      if (s.state?.terminated && s.state.terminated.exitCode === 0) s.ready = true;
      continue;
    }
    if (!started) continue;
    s.ready = !!c && probes.ready(inp.pod, c, idOf(s));
  }
}

function statusOf(statuses: readonly ContainerStatus[], name: string): ContainerStatus | undefined {
  return statuses.find((s) => s.name === name);
}

/** upstream HasAnyRegularContainerStarted. */
export function hasAnyRegularContainerStarted(spec: PodSpec | undefined, statuses: readonly ContainerStatus[]): boolean {
  const names = new Set((spec?.containers ?? []).map((c) => c.name));
  return statuses.some((s) => names.has(s.name) && (!!s.state?.running || !!s.state?.terminated));
}

/** upstream getPhase: the pod phase from its containers' statuses. */
export function getPhase(pod: Pod, info: readonly ContainerStatus[], podIsTerminal: boolean): "Pending" | "Running" | "Succeeded" | "Failed" {
  const spec = pod.spec;
  let pendingInitialization = 0;
  let failedInitialization = 0;
  for (const c of spec?.initContainers ?? []) {
    if (isRestartableInit(c)) continue;
    const s = statusOf(info, c.name);
    if (!s) {
      pendingInitialization++;
      continue;
    }
    if (s.state?.running) pendingInitialization++;
    else if (s.state?.terminated) {
      if (s.state.terminated.exitCode !== 0) failedInitialization++;
    } else if (s.state?.waiting) {
      if (s.lastState?.terminated) {
        if (s.lastState.terminated.exitCode !== 0) failedInitialization++;
      } else pendingInitialization++;
    } else pendingInitialization++;
  }
  let unknown = 0;
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const c of spec?.initContainers ?? []) {
    if (!isRestartableInit(c)) continue;
    const s = statusOf(info, c.name);
    if (!s) {
      unknown++;
      continue;
    }
    if (s.state?.running) {
      if (!s.started) pendingInitialization++;
      running++;
    } else if (s.state?.terminated) {
      // Terminated sidecars do not decide the phase.
    } else if (s.state?.waiting) {
      if (!s.lastState?.terminated) {
        pendingInitialization++;
        waiting++;
      }
    } else {
      pendingInitialization++;
      unknown++;
    }
  }
  for (const c of spec?.containers ?? []) {
    const s = statusOf(info, c.name);
    if (!s) {
      unknown++;
      continue;
    }
    if (s.state?.running) running++;
    else if (s.state?.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.state?.waiting) {
      if (s.lastState?.terminated) stopped++;
      else waiting++;
    } else unknown++;
  }
  const restartPolicy = spec?.restartPolicy ?? "Always";
  if (failedInitialization > 0 && restartPolicy === "Never") return "Failed";
  if ((pendingInitialization > 0 && !hasAnyRegularContainerStarted(spec, info)) || waiting > 0) return "Pending";
  if (running > 0 && unknown === 0) return "Running";
  if (running === 0 && stopped > 0 && unknown === 0) {
    if (podIsTerminal) return stopped === succeeded ? "Succeeded" : "Failed";
    if (restartPolicy === "Always") return "Running";
    if (stopped === succeeded) return "Succeeded";
    if (restartPolicy === "Never") return "Failed";
    return "Running";
  }
  return "Pending";
}

function condition(type: string, status: "True" | "False", reason?: string, message?: string): PodCondition {
  return { type, status, ...(reason ? { reason } : {}), ...(message ? { message } : {}) };
}

/** upstream GenerateContainersReadyCondition. */
export function containersReadyCondition(spec: PodSpec | undefined, statuses: readonly ContainerStatus[] | undefined, phase: string): PodCondition {
  if (!statuses) return condition("ContainersReady", "False", "UnknownContainerStatuses");
  const unknown: string[] = [];
  const unready: string[] = [];
  const check = (name: string) => {
    const s = statusOf(statuses, name);
    if (!s) unknown.push(name);
    else if (!s.ready) unready.push(name);
  };
  for (const c of spec?.initContainers ?? []) if (isRestartableInit(c)) check(c.name);
  for (const c of spec?.containers ?? []) check(c.name);
  if (phase === "Succeeded" && unknown.length === 0) return condition("ContainersReady", "False", "PodCompleted");
  if (phase === "Failed") return condition("ContainersReady", "False", "PodFailed");
  const messages: string[] = [];
  if (unknown.length > 0) messages.push(`containers with unknown status: ${goSlice(unknown)}`);
  if (unready.length > 0) messages.push(`containers with unready status: ${goSlice(unready)}`);
  if (messages.length > 0) return condition("ContainersReady", "False", "ContainersNotReady", messages.join(", "));
  return condition("ContainersReady", "True");
}

/** upstream GeneratePodReadyCondition (readiness gates included). */
export function podReadyCondition(spec: PodSpec | undefined, conditions: readonly PodCondition[], statuses: readonly ContainerStatus[] | undefined, phase: string): PodCondition {
  const cr = containersReadyCondition(spec, statuses, phase);
  if (cr.status !== "True") return condition("Ready", cr.status as "False", cr.reason, cr.message);
  const messages: string[] = [];
  for (const g of spec?.readinessGates ?? []) {
    const c = conditions.find((x) => x.type === g.conditionType);
    if (!c) messages.push(`corresponding condition of pod readiness gate "${g.conditionType}" does not exist.`);
    else if (c.status !== "True") messages.push(`the status of pod readiness gate "${g.conditionType}" is not "True", but ${c.status}`);
  }
  if (messages.length > 0) return condition("Ready", "False", "ReadinessGatesNotReady", messages.join(", "));
  return condition("Ready", "True");
}

/** upstream GeneratePodInitializedCondition. */
export function podInitializedCondition(spec: PodSpec | undefined, statuses: readonly ContainerStatus[] | undefined, phase: string): PodCondition {
  const inits = spec?.initContainers ?? [];
  if (!statuses && inits.length > 0) return condition("Initialized", "False", "UnknownContainerStatuses");
  const all = statuses ?? [];
  const unknown: string[] = [];
  const incomplete: string[] = [];
  for (const c of inits) {
    const s = statusOf(all, c.name);
    if (!s) {
      unknown.push(c.name);
      continue;
    }
    const done = isRestartableInit(c) ? s.started === true : s.ready === true;
    if (!done) incomplete.push(c.name);
  }
  if (phase === "Succeeded" && unknown.length === 0) return condition("Initialized", "True", "PodCompleted");
  if (hasAnyRegularContainerStarted(spec, all)) return condition("Initialized", "True");
  const messages: string[] = [];
  if (unknown.length > 0) messages.push(`containers with unknown status: ${goSlice(unknown)}`);
  if (incomplete.length > 0) messages.push(`containers with incomplete status: ${goSlice(incomplete)}`);
  if (messages.length > 0) return condition("Initialized", "False", "ContainersNotInitialized", messages.join(", "));
  return condition("Initialized", "True");
}

/** upstream GeneratePodReadyToStartContainersCondition: True once a ready sandbox with its network exists. */
export function readyToStartContainersCondition(pod: Pod, runtime: RuntimePodStatus): PodCondition {
  const sb = runtime.sandboxes[0];
  const hostNetwork = pod.spec?.hostNetwork === true;
  const ready = !!sb && sb.state === "ready" && (hostNetwork || sb.ips.length > 0);
  return condition("PodReadyToStartContainers", ready ? "True" : "False");
}

/** upstream generateAPIPodStatus (minus what the status manager adds). */
export function generateAPIPodStatus(inp: StatusInputs): PodStatus {
  const { pod, oldStatus } = inp;
  const apiStatus = pod.status ?? {};
  const spec = pod.spec;
  const s: PodStatus = {};
  // IPs: the sandbox's; a stopped sandbox keeps showing the IPs it had, as a terminated pod's status does.
  const ips = inp.runtime.ips.length > 0 ? inp.runtime.ips : (oldStatus.podIPs ?? []).map((p) => p.ip ?? "").filter(Boolean);
  if (ips.length > 0) {
    s.podIP = ips[0];
    s.podIPs = ips.map((ip) => ({ ip }));
  }
  if (apiStatus.qosClass) s.qosClass = apiStatus.qosClass;
  const hasInit = (spec?.initContainers ?? []).length > 0;
  s.containerStatuses = convertContainerStatuses(inp, oldStatus.containerStatuses, spec?.containers ?? [], hasInit, false);
  if (hasInit) s.initContainerStatuses = convertContainerStatuses(inp, oldStatus.initContainerStatuses, spec?.initContainers ?? [], hasInit, true);

  const all = [...s.containerStatuses, ...(s.initContainerStatuses ?? [])];
  let phase: string = getPhase(pod, all, inp.podIsTerminal);
  if (phase !== "Failed" && phase !== "Succeeded") {
    if (oldStatus.phase === "Failed" || oldStatus.phase === "Succeeded") phase = oldStatus.phase;
    else if (apiStatus.phase === "Failed" || apiStatus.phase === "Succeeded") phase = apiStatus.phase;
  }
  // Pods never leave a terminal phase the API server shows.
  if ((apiStatus.phase === "Failed" || apiStatus.phase === "Succeeded") && phase !== apiStatus.phase) phase = apiStatus.phase;
  s.phase = phase;
  if (phase === oldStatus.phase) {
    const reason = oldStatus.reason || apiStatus.reason;
    const message = oldStatus.message || apiStatus.message;
    if (reason) s.reason = reason;
    if (message) s.message = message;
  }

  applyProbes(inp, s);

  const conditions: PodCondition[] = [];
  for (const c of apiStatus.conditions ?? []) if (!KUBELET_CONDITIONS.has(c.type)) conditions.push(structuredClone(c));
  const disruption = (oldStatus.conditions ?? []).find((c) => c.type === "DisruptionTarget");
  if (disruption) {
    const i = conditions.findIndex((c) => c.type === "DisruptionTarget");
    if (i >= 0) conditions[i] = structuredClone(disruption);
    else conditions.push(structuredClone(disruption));
  }
  const allStatuses = [...(s.initContainerStatuses ?? []), ...s.containerStatuses];
  conditions.push(readyToStartContainersCondition(pod, inp.runtime));
  conditions.push(podInitializedCondition(spec, allStatuses, phase));
  conditions.push(podReadyCondition(spec, conditions, allStatuses, phase));
  conditions.push(containersReadyCondition(spec, allStatuses, phase));
  conditions.push(condition("PodScheduled", "True"));
  s.conditions = conditions;

  if (inp.hostIPs.length > 0) {
    s.hostIP = inp.hostIPs[0];
    s.hostIPs = inp.hostIPs.map((ip) => ({ ip }));
  }
  if (pod.spec?.hostNetwork && inp.hostIPs.length > 0) {
    s.podIP = inp.hostIPs[0];
    s.podIPs = [{ ip: inp.hostIPs[0]! }];
  }
  return s;
}

/**
 * What the status manager adds before a status is stored (updateStatusInternal):
 * each condition keeps its lastTransitionTime while its status is unchanged
 * and gets `now` when it changes; `lastProbeTime` is null as upstream
 * serializes it; startTime is set once and never changes.
 */
export function normalizeStatus(status: PodStatus, old: PodStatus, now: number): PodStatus {
  const out: PodStatus = { ...status };
  out.conditions = (status.conditions ?? []).map((c) => {
    if (!KUBELET_CONDITIONS.has(c.type)) return c;
    const prev = (old.conditions ?? []).find((o) => o.type === c.type);
    const lastTransitionTime = prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : rfc3339(now);
    return { type: c.type, status: c.status, lastProbeTime: null as unknown as string, lastTransitionTime, ...(c.reason ? { reason: c.reason } : {}), ...(c.message ? { message: c.message } : {}) };
  });
  out.startTime = old.startTime ?? status.startTime ?? rfc3339(now);
  return out;
}
