/**
 * Settings of the streaming handlers. The request contract (targets,
 * handler signature, who owns the socket) is the kubelet server's
 * `../routes.ts`; the handlers take these options as an extra, optional
 * last argument.
 */
import type { Logger } from "../../../machinery/log.js";

/** Timeouts and logging; every field has upstream's default. */
export interface StreamingOptions {
  /** Close a connection after this long without traffic (kubelet streamingConnectionIdleTimeout): 4 h. */
  readonly idleTimeoutMs?: number;
  /** How long a SPDY client has to open its streams (DefaultStreamCreationTimeout): 30 s. */
  readonly streamCreationTimeoutMs?: number;
  /**
   * After a command finished and its status was sent, how long to wait for
   * the client to close the connection before dropping it: 15 min. The
   * server never closes first while output may be in flight (a client still
   * sending pings on a closed socket gets a reset that discards unread
   * output).
   */
  readonly finishTimeoutMs?: number;
  /** Once one direction of a forwarded port connection ended, how long the other may continue (containerd): 1 s. */
  readonly portForwardGraceMs?: number;
  readonly logger?: Logger;
}

/** Upstream defaults of {@link StreamingOptions}. */
export const DEFAULT_IDLE_TIMEOUT_MS = 4 * 60 * 60 * 1000;
export const DEFAULT_STREAM_CREATION_TIMEOUT_MS = 30 * 1000;
export const DEFAULT_FINISH_TIMEOUT_MS = 15 * 60 * 1000;
export const DEFAULT_PORT_FORWARD_GRACE_MS = 1000;
