/**
 * A SPDY/3.1 session over any duplex byte stream: a TCP or TLS socket after
 * an HTTP `Upgrade: SPDY/3.1`, or a WebSocket carrying SPDY frames
 * (kubectl 1.31+'s tunnelled port-forward). It speaks what
 * k8s.io/apimachinery's spdy package (moby/spdystream) speaks:
 *
 * - The peer opens streams with SYN_STREAM; the session decodes the headers,
 *   asks `onStream`, and answers SYN_REPLY (accepted) or RST_STREAM
 *   REFUSED_STREAM. In the "client" role (tests) it opens streams itself.
 * - DATA frames carry stream bytes, FIN half-closes, RST_STREAM aborts.
 * - PINGs with the peer's parity are echoed; SETTINGS, WINDOW_UPDATE and
 *   unknown control frames are read and ignored. Flow-control windows are
 *   deliberately not enforced: spdystream never sends WINDOW_UPDATE, so a
 *   sender that honoured the 64 KiB initial window would stall every
 *   stream. Backpressure is instead what spdystream does: when a stream's
 *   reader falls behind, the session stops reading the transport.
 * - Frames leave in the order they were queued; a frame with a header block
 *   waits for its compression, and data of a stream never overtakes its
 *   SYN_REPLY.
 * - Any frame in either direction resets the idle timer; when it fires the
 *   session sends GOAWAY and closes (upstream's stream idle timeout).
 */
import { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import { type Logger, silentLogger } from "../../../../machinery/log.js";
import {
  decodeFrame,
  encodeData,
  encodeGoAway,
  encodePing,
  encodeRstStream,
  encodeSynReply,
  encodeSynStream,
  FLAG_FIN,
  FLAG_UNIDIRECTIONAL,
  type Frame,
  GoAwayStatus,
  RstStatus,
  SpdyProtocolError,
} from "./frames.js";
import { HeaderCompressor, HeaderDecompressor, type OutgoingHeaders } from "./header-codec.js";
import { SpdyStream, type StreamOwner } from "./stream.js";

/** Payload per DATA frame we send; smaller frames let streams interleave. */
const MAX_DATA_CHUNK = 64 * 1024;
/** How long a graceful close waits for the peer before dropping the transport. */
const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

export interface SpdySessionOptions {
  /**
   * "server": the peer opens (odd-numbered) streams, as kubectl does to the
   * kubelet. "client": this side opens them (tests, tools).
   */
  readonly role: "server" | "client";
  /** Close after this long without a frame in either direction; 0 or absent: never. */
  readonly idleTimeoutMs?: number;
  /** How long `close()` waits for the peer to close the transport; default 10 s. */
  readonly closeTimeoutMs?: number;
  readonly logger?: Logger;
  /**
   * Called for each stream the peer opens, with its headers decoded. Return
   * `false` to refuse it (RST_STREAM REFUSED_STREAM); otherwise the session
   * replies and the stream is live.
   */
  readonly onStream?: (stream: SpdyStream) => boolean | undefined;
}

/**
 * A SPDY/3.1 session. Emits `close` once, when the transport is gone, and
 * `goaway` when the peer sent GOAWAY.
 */
export class SpdySession extends EventEmitter implements StreamOwner {
  private readonly log: Logger;
  private readonly compressor = new HeaderCompressor();
  private readonly decompressor = new HeaderDecompressor();
  private readonly streams = new Map<number, SpdyStream>();
  private readonly pending = new Map<number, { resolve: (s: SpdyStream) => void; reject: (e: Error) => void }>();
  private readonly blocked = new Set<SpdyStream>();
  private inBuf: Buffer = Buffer.alloc(0);
  private processing = false;
  private outQueue: { frame: Buffer | Promise<Buffer>; done: () => void }[] = [];
  private pumping = false;
  private lastPeerStreamId = 0;
  private nextStreamId: number;
  private goneAway = false;
  private peerGoneAway = false;
  private isClosed = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private resolveClosed!: () => void;
  /** Resolves once the transport is closed (by either side). */
  readonly closed: Promise<void> = new Promise((r) => {
    this.resolveClosed = r;
  });

  constructor(
    private readonly transport: Duplex,
    private readonly opts: SpdySessionOptions,
    head?: Buffer,
  ) {
    super();
    this.log = opts.logger ?? silentLogger;
    this.nextStreamId = opts.role === "client" ? 1 : 2;
    if (opts.idleTimeoutMs && opts.idleTimeoutMs > 0) {
      this.idleTimer = setTimeout(() => this.onIdle(), opts.idleTimeoutMs);
    }
    transport.on("data", (chunk: Buffer) => this.onTransportData(chunk));
    transport.on("end", () => this.onTransportGone("peer closed the connection"));
    transport.on("close", () => this.onTransportGone("connection closed"));
    transport.on("error", (err: Error) => {
      this.log.debug("spdy transport error", { err: err.message });
      this.onTransportGone(err.message);
    });
    if (head && head.length > 0) this.onTransportData(head);
  }

  /** True once the transport is gone. */
  get isDestroyed(): boolean {
    return this.isClosed;
  }

  /** True once the peer sent GOAWAY. */
  get receivedGoAway(): boolean {
    return this.peerGoneAway;
  }

  /** Streams currently open (not fully closed nor reset). */
  get openStreams(): number {
    return this.streams.size;
  }

  /**
   * Opens a stream ("client" role): sends SYN_STREAM and resolves once the
   * peer replied, or rejects when it reset the stream or the session ended.
   */
  openStream(headers: OutgoingHeaders, opts: { fin?: boolean } = {}): Promise<SpdyStream> {
    if (this.isClosed || this.goneAway || this.peerGoneAway) return Promise.reject(new Error("spdy session is closing"));
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const decoded = new Map<string, string[]>();
    for (const [k, v] of Object.entries(headers)) decoded.set(k.toLowerCase(), typeof v === "string" ? [v] : [...v]);
    const stream = new SpdyStream(this, id, decoded);
    this.streams.set(id, stream);
    const replied = new Promise<SpdyStream>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    const flags = opts.fin ? FLAG_FIN : 0;
    void this.enqueue(this.compressor.compress(headers).then((block) => encodeSynStream(id, flags, block)));
    stream.markReady();
    if (opts.fin) stream.localEnd();
    return replied;
  }

  /** Sends GOAWAY (once): the peer may open no more streams; open ones continue. */
  goAway(status: number = GoAwayStatus.Ok): Promise<void> {
    if (this.goneAway) return Promise.resolve();
    this.goneAway = true;
    return this.enqueue(encodeGoAway(this.lastPeerStreamId, status));
  }

  /**
   * Graceful close: GOAWAY, flush what is queued, half-close the transport,
   * and drop it if the peer has not closed within the close timeout.
   */
  close(): void {
    if (this.isClosed) return;
    void this.goAway().then(() => {
      if (this.isClosed) return;
      this.transport.end();
      this.closeTimer = setTimeout(() => this.destroy(), this.opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS);
    });
  }

  /** Drops the transport at once. */
  destroy(): void {
    this.transport.destroy();
    this.onTransportGone("destroyed");
  }

  // ---- StreamOwner ----

  async sendData(stream: SpdyStream, data: Buffer): Promise<void> {
    for (let off = 0; off < data.length; off += MAX_DATA_CHUNK) {
      if (stream.isLocalClosed || this.isClosed) return;
      await this.enqueue(encodeData(stream.id, 0, data.subarray(off, off + MAX_DATA_CHUNK)));
    }
  }

  async sendFin(stream: SpdyStream): Promise<void> {
    if (stream.isLocalClosed) return;
    stream.localEnd();
    await this.enqueue(encodeData(stream.id, FLAG_FIN, Buffer.alloc(0)));
  }

  sendReset(stream: SpdyStream, status: number): void {
    void this.enqueue(encodeRstStream(stream.id, status));
  }

  block(stream: SpdyStream): void {
    this.blocked.add(stream);
    if (this.blocked.size === 1) this.transport.pause();
  }

  unblock(stream: SpdyStream): void {
    if (!this.blocked.delete(stream)) return;
    if (this.blocked.size === 0 && !this.isClosed) {
      this.transport.resume();
      void this.processFrames();
    }
  }

  forget(stream: SpdyStream): void {
    this.streams.delete(stream.id);
    this.blocked.delete(stream);
  }

  // ---- writing ----

  private enqueue(frame: Buffer | Promise<Buffer>): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise<void>((done) => {
      this.outQueue.push({ frame, done });
      if (!this.pumping) void this.pump();
    });
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    while (this.outQueue.length > 0) {
      const item = this.outQueue.shift()!;
      try {
        const buf = await item.frame;
        if (!this.isClosed && this.transport.writable) {
          this.touch();
          if (!this.transport.write(buf)) await this.drained();
        }
      } catch (err) {
        this.log.warn("spdy frame could not be encoded", { err: (err as Error).message });
        this.destroy();
      }
      item.done();
    }
    this.pumping = false;
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.transport.off("drain", done);
        this.transport.off("close", done);
        resolve();
      };
      this.transport.on("drain", done);
      this.transport.on("close", done);
    });
  }

  // ---- reading ----

  private onTransportData(chunk: Buffer): void {
    this.inBuf = this.inBuf.length === 0 ? chunk : Buffer.concat([this.inBuf, chunk]);
    void this.processFrames();
  }

  private async processFrames(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      while (!this.isClosed && this.blocked.size === 0) {
        const decoded = decodeFrame(this.inBuf);
        if (!decoded) break;
        this.inBuf = this.inBuf.subarray(decoded.size);
        this.touch();
        await this.handleFrame(decoded.frame);
      }
    } catch (err) {
      const message = (err as Error).message;
      this.log.warn("spdy protocol error, closing the connection", { err: message });
      if (err instanceof SpdyProtocolError) void this.goAway(GoAwayStatus.ProtocolError);
      this.close();
    } finally {
      this.processing = false;
    }
  }

  private async handleFrame(frame: Frame): Promise<void> {
    switch (frame.kind) {
      case "syn_stream": {
        // Decompress first, always: the zlib stream is shared by every block.
        const headers = await this.decompressor.decompress(frame.headerBlock);
        const peerParity = this.opts.role === "server" ? 1 : 0;
        if (frame.streamId === 0 || frame.streamId % 2 !== peerParity || frame.streamId <= this.lastPeerStreamId) {
          this.log.debug("spdy stream id rejected", { stream: frame.streamId });
          void this.enqueue(encodeRstStream(frame.streamId, RstStatus.ProtocolError));
          return;
        }
        this.lastPeerStreamId = frame.streamId;
        if (this.goneAway || this.isClosed) {
          void this.enqueue(encodeRstStream(frame.streamId, RstStatus.RefusedStream));
          return;
        }
        const stream = new SpdyStream(this, frame.streamId, headers);
        this.streams.set(stream.id, stream);
        if (frame.flags & FLAG_UNIDIRECTIONAL) stream.localEnd();
        if (frame.flags & FLAG_FIN) stream.remoteEnd();
        const accepted = this.opts.onStream ? this.opts.onStream(stream) : true;
        if (accepted === false) {
          stream.reset(RstStatus.RefusedStream);
          return;
        }
        if (!(frame.flags & FLAG_UNIDIRECTIONAL)) {
          const id = stream.id;
          void this.enqueue(this.compressor.compress({}).then((block) => encodeSynReply(id, 0, block)));
        }
        stream.markReady();
        return;
      }
      case "syn_reply": {
        await this.decompressor.decompress(frame.headerBlock);
        const waiter = this.pending.get(frame.streamId);
        this.pending.delete(frame.streamId);
        const stream = this.streams.get(frame.streamId);
        if (stream && frame.flags & FLAG_FIN) stream.remoteEnd();
        if (waiter && stream) waiter.resolve(stream);
        return;
      }
      case "headers": {
        await this.decompressor.decompress(frame.headerBlock);
        if (frame.flags & FLAG_FIN) this.streams.get(frame.streamId)?.remoteEnd();
        return;
      }
      case "rst_stream": {
        const stream = this.streams.get(frame.streamId);
        const waiter = this.pending.get(frame.streamId);
        this.pending.delete(frame.streamId);
        waiter?.reject(new Error(`stream ${frame.streamId} was reset (status ${frame.status})`));
        stream?.onReset();
        return;
      }
      case "data": {
        // Data for a stream already closed or reset is in flight by design; drop it.
        const stream = this.streams.get(frame.streamId);
        if (!stream) return;
        stream.deliver(frame.data);
        if (frame.flags & FLAG_FIN) stream.remoteEnd();
        return;
      }
      case "ping": {
        const ourParity = this.opts.role === "server" ? 0 : 1;
        if (frame.id % 2 !== ourParity) void this.enqueue(encodePing(frame.id));
        return;
      }
      case "goaway":
        this.peerGoneAway = true;
        this.emit("goaway", frame.lastGoodStreamId, frame.status);
        return;
      case "settings":
      case "window_update":
      case "unknown":
        // See the file comment: no flow control to apply, unknown types are ignored per spec.
        return;
    }
  }

  // ---- lifecycle ----

  private touch(): void {
    this.idleTimer?.refresh();
  }

  private onIdle(): void {
    this.log.info("streaming connection idle timeout, closing");
    this.close();
  }

  private onTransportGone(why: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.log.debug("spdy session closed", { reason: why });
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.closeTimer) clearTimeout(this.closeTimer);
    // Pending frames will never be written: release their writers.
    for (const item of this.outQueue.splice(0)) item.done();
    for (const waiter of this.pending.values()) waiter.reject(new Error("spdy session closed"));
    this.pending.clear();
    for (const stream of [...this.streams.values()]) stream.onReset();
    this.streams.clear();
    this.blocked.clear();
    this.compressor.close();
    this.decompressor.close();
    if (!this.transport.destroyed) this.transport.destroy();
    this.resolveClosed();
    this.emit("close");
  }
}
