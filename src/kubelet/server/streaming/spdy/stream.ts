/**
 * One SPDY stream as a Node Duplex: the readable side is what the peer sends
 * (DATA frames, EOF at its FIN), the writable side is what we send (`end()`
 * sends our FIN). A reset (either side) ends both sides without an error
 * event: the streaming protocols treat a reset as "the other side is done",
 * and a transport must never crash the kubelet with an unhandled error.
 */
import { Duplex } from "node:stream";
import { RstStatus } from "./frames.js";
import { headerValue, type SpdyHeaders } from "./header-codec.js";

/** What a stream needs from its session (implemented by SpdySession). */
export interface StreamOwner {
  sendData(stream: SpdyStream, data: Buffer): Promise<void>;
  sendFin(stream: SpdyStream): Promise<void>;
  sendReset(stream: SpdyStream, status: number): void;
  /** The stream's reader fell behind: stop reading frames from the transport. */
  block(stream: SpdyStream): void;
  /** The stream's reader wants more: resume reading frames. */
  unblock(stream: SpdyStream): void;
  /** Both halves are closed (or reset): forget the stream. */
  forget(stream: SpdyStream): void;
}

/** Readable buffer per stream before the whole session pauses reading (spdystream has no flow control either). */
const READ_HIGH_WATER_MARK = 256 * 1024;

export class SpdyStream extends Duplex {
  private localFin = false;
  private remoteFin = false;
  private wasReset = false;
  private resolveReady!: () => void;
  /** Resolves once our SYN_REPLY (server) or SYN_STREAM (client) is queued; data frames wait for it. */
  readonly ready: Promise<void> = new Promise((r) => {
    this.resolveReady = r;
  });

  constructor(
    private readonly owner: StreamOwner,
    readonly id: number,
    readonly headers: SpdyHeaders,
  ) {
    super({ allowHalfOpen: true, readableHighWaterMark: READ_HIGH_WATER_MARK, decodeStrings: true });
  }

  /** The first value of a request header, `""` when absent (Go's `Header.Get`). */
  header(name: string): string {
    return headerValue(this.headers, name);
  }

  /** True once the stream was reset by either side. */
  get isReset(): boolean {
    return this.wasReset;
  }

  /** True once nothing more can be written (our FIN sent, reset, or session gone). */
  get isLocalClosed(): boolean {
    return this.localFin || this.wasReset;
  }

  /** Resets the stream (RST_STREAM): both directions end, unread and unsent data is dropped. */
  reset(status: number = RstStatus.Cancel): void {
    if (this.wasReset || (this.localFin && this.remoteFin)) return;
    this.owner.sendReset(this, status);
    this.onReset();
  }

  // ---- called by the session ----

  /** @internal */
  markReady(): void {
    this.resolveReady();
  }

  /** @internal DATA from the peer. */
  deliver(data: Buffer): void {
    if (this.remoteFin || this.wasReset || data.length === 0) return;
    if (!this.push(data)) this.owner.block(this);
  }

  /** @internal The peer's FIN. */
  remoteEnd(): void {
    if (this.remoteFin || this.wasReset) return;
    this.remoteFin = true;
    this.push(null);
    this.owner.unblock(this);
    if (this.localFin) this.owner.forget(this);
  }

  /** @internal The stream was reset (by the peer, by us, or because the session went away). */
  onReset(): void {
    if (this.wasReset) return;
    this.wasReset = true;
    if (!this.remoteFin) {
      this.remoteFin = true;
      this.push(null);
    }
    this.owner.unblock(this);
    this.owner.forget(this);
    this.emit("reset");
  }

  /** @internal Our FIN went out (or the stream was created unidirectional). */
  localEnd(): void {
    this.localFin = true;
    if (this.remoteFin) this.owner.forget(this);
  }

  // ---- Duplex implementation ----

  override _read(): void {
    this.owner.unblock(this);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.isLocalClosed) {
      cb();
      return;
    }
    this.ready.then(() => this.owner.sendData(this, chunk)).then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.isLocalClosed) {
      cb();
      return;
    }
    this.ready.then(() => this.owner.sendFin(this)).then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.wasReset && !(this.localFin && this.remoteFin)) this.reset(RstStatus.Cancel);
    cb(err);
  }
}
