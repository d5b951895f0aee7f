/**
 * The contract between the kubelet's HTTPS server (this folder) and the
 * streaming protocol handlers (`streaming/`: SPDY/3.1 and WebSocket for
 * exec, attach and port-forward).
 *
 * The server owns everything before the protocol starts: TLS, authentication
 * (client certificate or bearer token), authorization (`nodes/proxy`), and
 * resolving `/{exec,attach}/{ns}/{pod}[/{uid}]/{container}` to a running
 * container and `/portForward/{ns}/{pod}[/{uid}]` to the pod's ready
 * sandbox, as upstream's `findContainer` and `GetPortForward` do. Failures
 * there are answered by the server as upstream's kubelet answers them
 * (404 `pod does not exist`, 500 `container not found ("c")`, …), so a
 * handler is only called with a target that existed a moment ago.
 *
 * A handler then owns the request: it reads its options from `req.url`'s
 * query (`command`, `stdin`, `stdout`, `stderr`, `tty`, `ports`) and the
 * protocol headers (`X-Stream-Protocol-Version`, `Sec-WebSocket-Protocol`,
 * `Upgrade`), answers the upgrade (101) or an error on `socket`, and drives
 * the runtime. It must never throw; it destroys `socket` when it is done.
 * `head` holds bytes the client sent after its request headers (already read
 * off the socket), which belong to the upgraded protocol.
 *
 * Only upgrade requests (`Connection: Upgrade` with an `Upgrade` header)
 * reach a handler; a plain request to these paths gets what upstream's
 * kubelet answers it: 500 `Upgrade request required`.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { ContainerRuntime } from "../../runtime/types.js";

/** The pod a streaming request addresses. */
export interface PodTarget {
  readonly podNamespace: string;
  readonly podName: string;
  readonly podUid: string;
}

/** A running container, for exec and attach. */
export interface ContainerTarget extends PodTarget {
  readonly containerName: string;
  /** The runtime's container id (no `type://` prefix). */
  readonly containerId: string;
}

/** A pod's ready sandbox, for port-forward. */
export interface SandboxTarget extends PodTarget {
  /** The runtime's sandbox id. */
  readonly podSandboxId: string;
}

/**
 * Serves one authenticated, authorized upgrade request for `target`.
 * See the module comment for what the handler owns.
 */
export type UpgradeHandler<T> = (req: IncomingMessage, socket: Duplex, head: Buffer, target: T, runtime: ContainerRuntime) => void | Promise<void>;

/** The streaming handlers a kubelet server mounts; a missing one answers 404 as an unknown path. */
export interface StreamingHandlers {
  /** `GET|POST /exec/{ns}/{pod}[/{uid}]/{container}?command=…`. */
  readonly exec?: UpgradeHandler<ContainerTarget>;
  /** `GET|POST /attach/{ns}/{pod}[/{uid}]/{container}`. */
  readonly attach?: UpgradeHandler<ContainerTarget>;
  /** `GET|POST /portForward/{ns}/{pod}[/{uid}]`. */
  readonly portForward?: UpgradeHandler<SandboxTarget>;
}
