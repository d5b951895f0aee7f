/**
 * The container runtime interface the kubelet drives: a TypeScript-shaped
 * CRI (k8s.io/cri-api `RuntimeService` + `ImageService`). The kubelet never
 * touches processes, namespaces or images itself; it asks a runtime through
 * this interface, so `sim/` (no processes, for scale) and `runc/` (real
 * containers watched by conmon) are interchangeable.
 *
 * Contract for every implementation (the runc author's checklist):
 * - Expected failures are values: every call resolves to a
 *   {@link RuntimeResult}; a rejected promise is a bug in the runtime.
 *   Use the gRPC-style {@link RuntimeErrorCode}s CRI runtimes use, so the
 *   kubelet can tell "not found" from "try again".
 * - Identity: sandbox and container ids are opaque, unique strings (runc:
 *   64 hex chars, as containerd/CRI-O). The kubelet finds its objects again
 *   after a restart only through `labels`/`annotations` it set at creation,
 *   so a runtime must keep and return them unchanged, and must keep exited
 *   containers (with exit code, reason, timestamps) until `removeContainer`.
 * - Timestamps are epoch milliseconds; 0 means "not yet".
 * - State machine of a container: created → running → exited; `unknown`
 *   only when the runtime lost track of it. `exited` carries `exitCode`,
 *   `reason` ("Completed" for 0, "Error" otherwise, "OOMKilled" when the
 *   kernel killed it for memory) and `finishedAt`.
 * - `stopContainer(id, timeoutSeconds)` sends the stop signal, waits up to
 *   the timeout, then kills; it resolves once the container has exited.
 *   Stopping an exited container succeeds.
 * - `stopPodSandbox` stops every container of the sandbox and releases its
 *   network (the IP may be reused); it is idempotent. `removePodSandbox`
 *   removes the sandbox and its containers.
 * - Exits must be observable without polling every container: emit a
 *   {@link ContainerEvent} through {@link ContainerRuntime.subscribe} for
 *   every state change (CRI's GetContainerEvents, the "evented PLEG"). The
 *   kubelet still relists periodically as upstream's generic PLEG does, so
 *   a missed event costs latency, not correctness.
 * - `pullImage` of a reference that does not exist fails with `NotFound`;
 *   unauthorized with `Unauthenticated`; an unreachable registry with
 *   `Unavailable`. Messages are shown to users verbatim (events, statuses).
 */

/** gRPC-style codes of expected runtime failures (as CRI runtimes return them). */
export type RuntimeErrorCode =
  | "NotFound"
  | "AlreadyExists"
  | "InvalidArgument"
  | "FailedPrecondition"
  | "Unauthenticated"
  | "PermissionDenied"
  | "Unavailable"
  | "DeadlineExceeded"
  | "ResourceExhausted"
  | "Unimplemented"
  | "Unknown";

/** An expected failure of a runtime call. */
export interface RuntimeError {
  readonly code: RuntimeErrorCode;
  /** Human-readable, shown to users as is (e.g. in `Failed to pull image "x": MESSAGE`). */
  readonly message: string;
}

/** The outcome of a runtime call: a value or an expected failure. */
export type RuntimeResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: RuntimeError };

/** String maps, as CRI's `map<string,string>`. */
export type StringMap = Readonly<Record<string, string>>;

// ---- sandboxes ----

/** Identity of a pod sandbox (CRI PodSandboxMetadata). */
export interface PodSandboxMetadata {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  /** How many sandboxes this pod had before this one. */
  readonly attempt: number;
}

/** A port the sandbox publishes on the host (CRI PortMapping, for hostPort). */
export interface PortMapping {
  readonly protocol: "TCP" | "UDP" | "SCTP";
  readonly containerPort: number;
  readonly hostPort: number;
  readonly hostIp?: string;
}

/** DNS for the sandbox's resolv.conf (CRI DNSConfig). */
export interface DnsConfig {
  readonly servers: readonly string[];
  readonly searches: readonly string[];
  readonly options: readonly string[];
}

/** What the kubelet asks for when it creates a sandbox (CRI PodSandboxConfig). */
export interface PodSandboxConfig {
  readonly metadata: PodSandboxMetadata;
  readonly hostname?: string;
  /** Where container logs of this pod go (`<root>/pods/<ns>_<name>_<uid>`). */
  readonly logDirectory?: string;
  readonly dnsConfig?: DnsConfig;
  readonly portMappings?: readonly PortMapping[];
  /** Share the host's network namespace (pod.spec.hostNetwork). */
  readonly hostNetwork?: boolean;
  /** cgroup parent of the pod (QoS class tree); runtimes without cgroups ignore it. */
  readonly cgroupParent?: string;
  readonly labels: StringMap;
  readonly annotations: StringMap;
}

/** `ready` while the sandbox (its network namespace) is usable; `notready` once stopped or broken. */
export type PodSandboxState = "ready" | "notready";

/** A sandbox as listed (CRI PodSandbox). */
export interface PodSandbox {
  readonly id: string;
  readonly metadata: PodSandboxMetadata;
  readonly state: PodSandboxState;
  readonly createdAt: number;
  readonly labels: StringMap;
  readonly annotations: StringMap;
}

/** Full status of a sandbox (CRI PodSandboxStatus). */
export interface PodSandboxStatus extends PodSandbox {
  /** The pod's IPs, primary first; empty for host-network sandboxes and stopped sandboxes. */
  readonly ips: readonly string[];
}

/** Narrows {@link RuntimeService.listPodSandbox}. */
export interface PodSandboxFilter {
  readonly id?: string;
  readonly state?: PodSandboxState;
  /** Every pair must match the sandbox's labels. */
  readonly labelSelector?: StringMap;
}

// ---- containers ----

/** Identity of a container inside its sandbox (CRI ContainerMetadata). */
export interface ContainerMetadata {
  readonly name: string;
  /** How many containers of this name the sandbox had before (the restart count). */
  readonly attempt: number;
}

/** A mount into the container (CRI Mount). */
export interface Mount {
  readonly containerPath: string;
  readonly hostPath: string;
  readonly readonly?: boolean;
  readonly propagation?: "private" | "host-to-container" | "bidirectional";
}

/** One environment variable. */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
}

/** Resource settings of a Linux container (CRI LinuxContainerResources). */
export interface LinuxContainerResources {
  readonly cpuShares?: number;
  readonly cpuQuota?: number;
  readonly cpuPeriod?: number;
  readonly memoryLimitInBytes?: number;
  readonly oomScoreAdj?: number;
}

/** What the kubelet asks for when it creates a container (CRI ContainerConfig). */
export interface ContainerConfig {
  readonly metadata: ContainerMetadata;
  /** The image as the pod names it, resolved by the runtime (the kubelet pulls first). */
  readonly image: string;
  /** Entrypoint override (pod `command`); empty keeps the image's. */
  readonly command: readonly string[];
  /** Arguments (pod `args`); empty keeps the image's. */
  readonly args: readonly string[];
  readonly workingDir?: string;
  readonly envs: readonly KeyValue[];
  readonly mounts: readonly Mount[];
  /** Relative to the sandbox's logDirectory, e.g. `app/0.log`. */
  readonly logPath?: string;
  readonly stdin?: boolean;
  readonly stdinOnce?: boolean;
  readonly tty?: boolean;
  readonly resources?: LinuxContainerResources;
  readonly labels: StringMap;
  readonly annotations: StringMap;
}

/** CRI ContainerState, lower-cased. */
export type ContainerState = "created" | "running" | "exited" | "unknown";

/** A container as listed (CRI Container). */
export interface ContainerSummary {
  readonly id: string;
  readonly podSandboxId: string;
  readonly metadata: ContainerMetadata;
  /** The image as requested. */
  readonly image: string;
  /** The image's identity (digest reference) once resolved. */
  readonly imageRef: string;
  readonly state: ContainerState;
  readonly createdAt: number;
  readonly labels: StringMap;
  readonly annotations: StringMap;
}

/** Full status of a container (CRI ContainerStatus). */
export interface ContainerStatus extends ContainerSummary {
  /** 0 until it started. */
  readonly startedAt: number;
  /** 0 until it exited. */
  readonly finishedAt: number;
  /** Meaningful once `exited`. */
  readonly exitCode: number;
  /** Brief reason of the last transition: "Completed", "Error", "OOMKilled", … */
  readonly reason: string;
  /** Details, e.g. the termination message. */
  readonly message: string;
  readonly mounts: readonly Mount[];
  readonly logPath: string;
}

/** Narrows {@link RuntimeService.listContainers}. */
export interface ContainerFilter {
  readonly id?: string;
  readonly podSandboxId?: string;
  readonly state?: ContainerState;
  readonly labelSelector?: StringMap;
}

/** A container lifecycle event (CRI ContainerEventResponse). */
export interface ContainerEvent {
  readonly type: "created" | "started" | "stopped" | "deleted";
  readonly containerId: string;
  readonly podSandboxId: string;
  /** The sandbox's labels, so the kubelet maps the event to its pod without a lookup. */
  readonly sandboxLabels: StringMap;
  readonly at: number;
}

// ---- runtime ----

/** CRI VersionResponse. */
export interface RuntimeVersion {
  /** e.g. "sim", "runc"; the kubelet shows `NAME://VERSION` as the node's containerRuntimeVersion. */
  readonly runtimeName: string;
  readonly runtimeVersion: string;
  readonly runtimeApiVersion: string;
}

/** One runtime condition (CRI RuntimeCondition): `RuntimeReady` and `NetworkReady` are required. */
export interface RuntimeCondition {
  readonly type: "RuntimeReady" | "NetworkReady" | (string & {});
  readonly status: boolean;
  readonly reason?: string;
  readonly message?: string;
}

/** CRI RuntimeConfig: what the kubelet pushes down after start. */
export interface RuntimeConfig {
  /** The node's pod CIDR once known (node.spec.podCIDR). */
  readonly podCidr?: string;
}

/** Sandboxes and containers (CRI RuntimeService; streaming calls come with exec/attach). */
export interface RuntimeService {
  version(): Promise<RuntimeResult<RuntimeVersion>>;
  /** Whether the runtime and its network are usable (drives the node's Ready condition). */
  status(): Promise<RuntimeResult<readonly RuntimeCondition[]>>;
  updateRuntimeConfig(config: RuntimeConfig): Promise<RuntimeResult<void>>;

  /** Creates and starts a sandbox (network namespace with its IP); resolves with its id. */
  runPodSandbox(config: PodSandboxConfig): Promise<RuntimeResult<string>>;
  stopPodSandbox(id: string): Promise<RuntimeResult<void>>;
  removePodSandbox(id: string): Promise<RuntimeResult<void>>;
  podSandboxStatus(id: string): Promise<RuntimeResult<PodSandboxStatus>>;
  listPodSandbox(filter?: PodSandboxFilter): Promise<RuntimeResult<readonly PodSandbox[]>>;

  /** Creates (does not start) a container in a sandbox; resolves with its id. */
  createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<RuntimeResult<string>>;
  startContainer(id: string): Promise<RuntimeResult<void>>;
  /** Stop signal, then kill after `timeoutSeconds`; resolves once exited. */
  stopContainer(id: string, timeoutSeconds: number): Promise<RuntimeResult<void>>;
  removeContainer(id: string): Promise<RuntimeResult<void>>;
  listContainers(filter?: ContainerFilter): Promise<RuntimeResult<readonly ContainerSummary[]>>;
  containerStatus(id: string): Promise<RuntimeResult<ContainerStatus>>;
}

/** An image the runtime holds (CRI Image). */
export interface Image {
  /** Content id (`sha256:…`). */
  readonly id: string;
  readonly repoTags: readonly string[];
  readonly repoDigests: readonly string[];
  readonly size: number;
}

/** Credentials for a pull (CRI AuthConfig). */
export interface AuthConfig {
  readonly username?: string;
  readonly password?: string;
  readonly auth?: string;
  readonly serverAddress?: string;
  readonly identityToken?: string;
  readonly registryToken?: string;
}

/** Images (CRI ImageService). */
export interface ImageService {
  listImages(): Promise<RuntimeResult<readonly Image[]>>;
  /** The image when present, `undefined` when not (not an error, as CRI). */
  imageStatus(image: string): Promise<RuntimeResult<Image | undefined>>;
  /** Pulls `image`; resolves with its image reference (what `imageID` shows). */
  pullImage(image: string, auth?: AuthConfig): Promise<RuntimeResult<string>>;
  removeImage(image: string): Promise<RuntimeResult<void>>;
}

// ---- streaming (exec, attach, port-forward) ----

/** What a command run to completion printed and how it ended (CRI ExecSync). */
export interface ExecSyncResult {
  readonly exitCode: number;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  /** True when the timeout ran out and the process was killed (exitCode is then meaningless). */
  readonly timedOut: boolean;
}

/** How an interactive exec or attach is wired (CRI ExecRequest/AttachRequest). */
export interface StreamOptions {
  /** The client sends stdin (`-i`); its end (EOF) closes the process's stdin. */
  readonly stdin: boolean;
  /** A terminal (`-t`): stdout carries both streams and `resize` applies. */
  readonly tty: boolean;
  /** Wanted streams; unwanted output is drained and dropped. */
  readonly stdout: boolean;
  readonly stderr: boolean;
  /** The client's terminal size when known at start (tty), so the first thing the process sees is right. */
  readonly initialSize?: { readonly width: number; readonly height: number };
}

/**
 * A live exec or attach session. Streams are Node streams the transport
 * (SPDY or WebSocket) pipes to the client; `exit` settles once the process
 * (exec) or the attachment (attach: the container exited or the runtime
 * detached) ends, with the exit code when known.
 */
export interface StreamSession {
  readonly stdin?: NodeJS.WritableStream;
  readonly stdout?: NodeJS.ReadableStream;
  /** Absent when tty (stderr goes to stdout through the terminal). */
  readonly stderr?: NodeJS.ReadableStream;
  /** Terminal size, when tty. */
  resize(width: number, height: number): void;
  /** Ends the session from the client side (the client went away). */
  close(): void;
  /** The exit code, or an expected failure (e.g. the runtime went away mid-exec). */
  readonly exit: Promise<RuntimeResult<number>>;
}

/** Interactive streams into containers and sandboxes (CRI Exec, Attach, PortForward). */
export interface StreamingService {
  /** Runs `cmd` in the container to completion (probes; CRI ExecSync). */
  execSync(containerId: string, cmd: readonly string[], timeoutSeconds: number): Promise<RuntimeResult<ExecSyncResult>>;
  /** Starts `cmd` in a running container, streams wired per `opts`. */
  exec(containerId: string, cmd: readonly string[], opts: StreamOptions): Promise<RuntimeResult<StreamSession>>;
  /** Attaches to the main process of a running container. */
  attach(containerId: string, opts: StreamOptions): Promise<RuntimeResult<StreamSession>>;
  /** A byte stream to `port` on the sandbox's loopback (CRI PortForward), one per client connection. */
  portForward(podSandboxId: string, port: number): Promise<RuntimeResult<NodeJS.ReadWriteStream>>;
  /** Makes the container's log writer reopen its log file (after the kubelet rotated it; CRI ReopenContainerLog). */
  reopenContainerLog(containerId: string): Promise<RuntimeResult<void>>;
}

/** A whole runtime: what the kubelet is given. */
export interface ContainerRuntime extends RuntimeService, ImageService, StreamingService {
  /** Scheme of container ids in the API (`sim://…`, `runc://…`). */
  readonly type: string;
  /**
   * Calls `listener` for every container state change until the returned
   * function is called. Listeners run synchronously and must be quick.
   */
  subscribe(listener: (event: ContainerEvent) => void): () => void;
  /**
   * Simulated probe outcome, for runtimes that run nothing (sim). Real
   * runtimes leave it out and the kubelet's prober runs the probe.
   */
  simulatedProbe?(containerId: string, probe: "readiness" | "liveness" | "startup"): boolean | undefined;
  /** Releases timers and resources (not the containers of a real runtime). */
  close(): Promise<void>;
}

/** A successful {@link RuntimeResult}. */
export function ok<T>(value: T): RuntimeResult<T> {
  return { ok: true, value };
}

/** A failed {@link RuntimeResult}. */
export function fail<T = never>(code: RuntimeErrorCode, message: string): RuntimeResult<T> {
  return { ok: false, error: { code, message } };
}

/** `rpc error: code = NotFound desc = …`, the form CRI errors reach users in. */
export function formatRuntimeError(e: RuntimeError): string {
  return `rpc error: code = ${e.code} desc = ${e.message}`;
}
