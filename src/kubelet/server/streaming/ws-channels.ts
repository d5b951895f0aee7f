/**
 * Kubernetes' channel protocol over one WebSocket (wsstream.Conn): each
 * message's first byte names a channel; the rest is that channel's data.
 *
 * - Binary protocols (`channel.k8s.io`, `v4.channel.k8s.io`,
 *   `v5.channel.k8s.io`): binary messages, channel byte then raw bytes.
 * - Base64 protocols (`base64.channel.k8s.io`, `v4.base64.channel.k8s.io`):
 *   text messages, the channel as an ASCII digit ('0' + n) then base64.
 * - v5 adds the close signal: a client message `[255, n]` half-closes
 *   channel n (the client's end of stdin).
 *
 * Channels the server does not read from drop what the client sends; writes
 * to channels the client may not read from are dropped, as upstream's
 * websocketChannel does. Any message in either direction resets the idle
 * timer.
 */
import { Readable, Writable } from "node:stream";
import type { WebSocket } from "ws";
import { type Logger, silentLogger } from "../../../machinery/log.js";

/** What a channel carries: client→server (read), server→client (write), both, or nothing. */
export type ChannelKind = "read" | "write" | "readwrite" | "ignore";

export interface ChannelProtocol {
  /** Binary messages with a raw channel byte; otherwise base64 text. */
  readonly binary: boolean;
  /** v5: the client may half-close a channel with `[255, n]`. */
  readonly supportsClose: boolean;
}

/** The close signal's first byte (remotecommand.StreamClose). */
export const STREAM_CLOSE = 255;

export interface WebSocketChannelsOptions {
  readonly idleTimeoutMs?: number;
  readonly logger?: Logger;
}

/** Readable buffer per channel before the socket pauses. */
const READ_HIGH_WATER_MARK = 256 * 1024;

export class WebSocketChannels {
  private readonly log: Logger;
  private readonly readers: (Readable | undefined)[];
  private readonly writers: Writable[];
  private readonly blocked = new Set<number>();
  private readonly ended = new Set<number>();
  private idleTimer: NodeJS.Timeout | undefined;
  private isClosed = false;
  private resolveClosed!: () => void;
  /** Resolves once the WebSocket is closed (either side). */
  readonly closed: Promise<void> = new Promise((r) => {
    this.resolveClosed = r;
  });

  constructor(
    private readonly ws: WebSocket,
    readonly protocol: string,
    private readonly codec: ChannelProtocol,
    private readonly kinds: readonly ChannelKind[],
    opts: WebSocketChannelsOptions = {},
  ) {
    this.log = opts.logger ?? silentLogger;
    this.readers = kinds.map((kind, i) =>
      kind === "read" || kind === "readwrite"
        ? new Readable({ highWaterMark: READ_HIGH_WATER_MARK, read: () => this.unblock(i) })
        : undefined,
    );
    this.writers = kinds.map(
      (_kind, i) =>
        new Writable({
          write: (chunk: Buffer, _enc, cb) => {
            this.send(i, chunk).then(() => cb(), cb);
          },
        }),
    );
    if (opts.idleTimeoutMs && opts.idleTimeoutMs > 0) {
      this.idleTimer = setTimeout(() => {
        this.log.info("streaming connection idle timeout, closing");
        this.close();
      }, opts.idleTimeoutMs);
    }
    ws.on("message", (data: Buffer, isBinary: boolean) => this.onMessage(data, isBinary));
    ws.on("close", () => this.onClosed());
    ws.on("error", (err: Error) => {
      this.log.debug("websocket error", { err: err.message });
      this.onClosed();
    });
  }

  /** What the client sends on channel `n` (read channels only); ends at the client's close signal or the connection's end. */
  reader(n: number): Readable | undefined {
    return this.readers[n];
  }

  /** A Writable sending to channel `n`; `end()` sends nothing (the protocol has no server-side close). */
  writer(n: number): Writable {
    return this.writers[n]!;
  }

  /**
   * Sends `data` on channel `n` as one message (an empty `data` sends just
   * the channel byte, which is how the server announces the connection).
   * Resolves once the socket took it; dropped when the channel is not
   * writable or the connection is gone.
   */
  send(n: number, data: Buffer): Promise<void> {
    const kind = this.kinds[n];
    if (this.isClosed || (kind !== "write" && kind !== "readwrite")) return Promise.resolve();
    if (this.ws.readyState !== this.ws.OPEN) return Promise.resolve();
    this.idleTimer?.refresh();
    const payload = this.codec.binary
      ? Buffer.concat([Buffer.from([n]), data])
      : String.fromCharCode(48 + n) + data.toString("base64");
    return new Promise((resolve) => {
      this.ws.send(payload, { binary: this.codec.binary }, () => resolve());
    });
  }

  /** Closes the connection with a normal close frame; the peer's reply (or ws's timeout) ends it. */
  close(code = 1000): void {
    if (this.isClosed) return;
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(code);
    else this.ws.terminate();
  }

  /** Drops the connection at once. */
  destroy(): void {
    this.ws.terminate();
    this.onClosed();
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    this.idleTimer?.refresh();
    if (data.length === 0) return;
    if (this.codec.supportsClose && data[0] === STREAM_CLOSE) {
      if (data.length !== 2) {
        this.log.warn("websocket close signal must carry exactly one channel byte, closing", { bytes: data.length - 1 });
        this.close(1002);
        return;
      }
      const n = data[1]!;
      if (n >= this.kinds.length) {
        this.log.warn("websocket close signal for an invalid channel, closing", { channel: n });
        this.close(1002);
        return;
      }
      this.endReader(n);
      return;
    }
    let n = data[0]!;
    let payload = data.subarray(1);
    if (!this.codec.binary) {
      n -= 48;
      payload = Buffer.from(payload.toString("latin1"), "base64");
    } else if (!isBinary) {
      // x/net/websocket's Message.Receive accepts text frames on binary protocols too.
      payload = Buffer.from(payload);
    }
    const reader = this.readers[n];
    if (!reader || this.ended.has(n) || payload.length === 0) return;
    if (!reader.push(payload)) this.block(n);
  }

  private endReader(n: number): void {
    const reader = this.readers[n];
    if (reader && !this.ended.has(n)) reader.push(null);
    this.ended.add(n);
    this.unblock(n);
  }

  private block(n: number): void {
    this.blocked.add(n);
    if (this.blocked.size === 1) this.ws.pause();
  }

  private unblock(n: number): void {
    if (!this.blocked.delete(n)) return;
    if (this.blocked.size === 0 && !this.isClosed) this.ws.resume();
  }

  private onClosed(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    for (let n = 0; n < this.readers.length; n++) this.endReader(n);
    this.resolveClosed();
  }
}
