/**
 * The client side of an exec or attach session once the transport is up,
 * the same shape for SPDY and WebSocket (remotecommand's connectionContext).
 */
import type { Readable, Writable } from "node:stream";
import type { StreamStatus } from "./status.js";

export interface CommandStreams {
  readonly transport: "spdy" | "websocket";
  /** The negotiated protocol (`v4.channel.k8s.io`, …; `""` when the client offered none). */
  readonly protocol: string;
  /** What the client types; ends at its EOF (stream FIN, v5 close signal, or disconnect). */
  readonly stdin?: Readable;
  readonly stdout?: Writable;
  readonly stderr?: Writable;
  /** Terminal size JSON objects. */
  readonly resize?: Readable;
  /**
   * Reports `status` (per protocol version), ends the output streams, stops
   * reading input, and waits for the client to close the connection, at
   * most the finish timeout.
   */
  finish(status: StreamStatus): Promise<void>;
  /** Resolves once the connection is gone (either side). */
  readonly closed: Promise<void>;
  /** Drops the connection. */
  abort(): void;
}
