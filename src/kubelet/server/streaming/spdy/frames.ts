/**
 * SPDY/3.1 framing (the SPDY/3 draft plus 3.1's session flow-control
 * WINDOW_UPDATE on stream 0): encoding and decoding of the frames
 * Kubernetes' streaming protocols use. Header blocks stay compressed bytes
 * here; {@link ./header-codec.ts} owns the per-direction zlib state.
 *
 * Wire layout (all integers big-endian):
 * - control frame: `1 | version(15) | type(16) | flags(8) | length(24) | payload`
 * - data frame:    `0 | stream-id(31) | flags(8) | length(24) | payload`
 */

export const SPDY_VERSION = 3;
export const FRAME_HEADER_LENGTH = 8;
/** Largest payload a frame can carry (24-bit length). */
export const MAX_FRAME_PAYLOAD = 0xffffff;

/** Control frame types. */
export const ControlType = {
  SynStream: 1,
  SynReply: 2,
  RstStream: 3,
  Settings: 4,
  Ping: 6,
  GoAway: 7,
  Headers: 8,
  WindowUpdate: 9,
} as const;
type ControlTypeValue = (typeof ControlType)[keyof typeof ControlType];

/** FLAG_FIN on SYN_STREAM, SYN_REPLY, HEADERS and DATA. */
export const FLAG_FIN = 0x01;
/** FLAG_UNIDIRECTIONAL on SYN_STREAM. */
export const FLAG_UNIDIRECTIONAL = 0x02;

/** RST_STREAM status codes (SPDY/3 section 2.6.3). */
export const RstStatus = {
  ProtocolError: 1,
  InvalidStream: 2,
  RefusedStream: 3,
  UnsupportedVersion: 4,
  Cancel: 5,
  InternalError: 6,
  FlowControlError: 7,
  StreamInUse: 8,
  StreamAlreadyClosed: 9,
  FrameTooLarge: 11,
} as const;

/** GOAWAY status codes. */
export const GoAwayStatus = { Ok: 0, ProtocolError: 1, InternalError: 2 } as const;

export interface SynStreamFrame {
  readonly kind: "syn_stream";
  readonly flags: number;
  readonly streamId: number;
  readonly associatedStreamId: number;
  readonly priority: number;
  readonly slot: number;
  /** Compressed header block. */
  readonly headerBlock: Buffer;
}
export interface SynReplyFrame {
  readonly kind: "syn_reply";
  readonly flags: number;
  readonly streamId: number;
  readonly headerBlock: Buffer;
}
export interface HeadersFrame {
  readonly kind: "headers";
  readonly flags: number;
  readonly streamId: number;
  readonly headerBlock: Buffer;
}
export interface RstStreamFrame {
  readonly kind: "rst_stream";
  readonly streamId: number;
  readonly status: number;
}
export interface SettingsFrame {
  readonly kind: "settings";
  readonly flags: number;
  readonly entries: readonly { readonly flags: number; readonly id: number; readonly value: number }[];
}
export interface PingFrame {
  readonly kind: "ping";
  readonly id: number;
}
export interface GoAwayFrame {
  readonly kind: "goaway";
  readonly lastGoodStreamId: number;
  readonly status: number;
}
export interface WindowUpdateFrame {
  readonly kind: "window_update";
  readonly streamId: number;
  readonly delta: number;
}
export interface DataFrame {
  readonly kind: "data";
  readonly streamId: number;
  readonly flags: number;
  readonly data: Buffer;
}
/** A control frame of a type this implementation does not know; SPDY says ignore it. */
export interface UnknownControlFrame {
  readonly kind: "unknown";
  readonly type: number;
}

export type Frame =
  | SynStreamFrame
  | SynReplyFrame
  | HeadersFrame
  | RstStreamFrame
  | SettingsFrame
  | PingFrame
  | GoAwayFrame
  | WindowUpdateFrame
  | DataFrame
  | UnknownControlFrame;

/** A malformed frame: the session answers with GOAWAY(PROTOCOL_ERROR). */
export class SpdyProtocolError extends Error {
  override name = "SpdyProtocolError";
}

const STREAM_ID_MASK = 0x7fffffff;

function controlHeader(type: ControlTypeValue, flags: number, length: number): Buffer {
  const b = Buffer.alloc(FRAME_HEADER_LENGTH + length);
  b.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  b.writeUInt16BE(type, 2);
  b.writeUInt32BE(((flags & 0xff) << 24) | length, 4);
  return b;
}

export function encodeSynStream(streamId: number, flags: number, headerBlock: Buffer, priority = 0): Buffer {
  const b = controlHeader(ControlType.SynStream, flags, 10 + headerBlock.length);
  b.writeUInt32BE(streamId & STREAM_ID_MASK, 8);
  b.writeUInt32BE(0, 12);
  b[16] = (priority & 0x7) << 5;
  b[17] = 0;
  headerBlock.copy(b, 18);
  return b;
}

export function encodeSynReply(streamId: number, flags: number, headerBlock: Buffer): Buffer {
  const b = controlHeader(ControlType.SynReply, flags, 4 + headerBlock.length);
  b.writeUInt32BE(streamId & STREAM_ID_MASK, 8);
  headerBlock.copy(b, 12);
  return b;
}

export function encodeRstStream(streamId: number, status: number): Buffer {
  const b = controlHeader(ControlType.RstStream, 0, 8);
  b.writeUInt32BE(streamId & STREAM_ID_MASK, 8);
  b.writeUInt32BE(status, 12);
  return b;
}

export function encodeSettings(entries: readonly { flags?: number; id: number; value: number }[]): Buffer {
  const b = controlHeader(ControlType.Settings, 0, 4 + entries.length * 8);
  b.writeUInt32BE(entries.length, 8);
  entries.forEach((e, i) => {
    const off = 12 + i * 8;
    b.writeUInt32BE((((e.flags ?? 0) & 0xff) << 24) | (e.id & 0xffffff), off);
    b.writeUInt32BE(e.value >>> 0, off + 4);
  });
  return b;
}

export function encodePing(id: number): Buffer {
  const b = controlHeader(ControlType.Ping, 0, 4);
  b.writeUInt32BE(id >>> 0, 8);
  return b;
}

export function encodeGoAway(lastGoodStreamId: number, status: number): Buffer {
  const b = controlHeader(ControlType.GoAway, 0, 8);
  b.writeUInt32BE(lastGoodStreamId & STREAM_ID_MASK, 8);
  b.writeUInt32BE(status, 12);
  return b;
}

export function encodeWindowUpdate(streamId: number, delta: number): Buffer {
  const b = controlHeader(ControlType.WindowUpdate, 0, 8);
  b.writeUInt32BE(streamId & STREAM_ID_MASK, 8);
  b.writeUInt32BE(delta & STREAM_ID_MASK, 12);
  return b;
}

export function encodeData(streamId: number, flags: number, data: Buffer): Buffer {
  if (data.length > MAX_FRAME_PAYLOAD) throw new RangeError(`data frame of ${data.length} bytes exceeds ${MAX_FRAME_PAYLOAD}`);
  const b = Buffer.alloc(FRAME_HEADER_LENGTH + data.length);
  b.writeUInt32BE(streamId & STREAM_ID_MASK, 0);
  b.writeUInt32BE(((flags & 0xff) << 24) | data.length, 4);
  data.copy(b, 8);
  return b;
}

/**
 * Decodes the first frame of `buf`: the frame and how many bytes it took, or
 * `undefined` when `buf` does not hold a whole frame yet.
 * @throws SpdyProtocolError on a malformed frame.
 */
export function decodeFrame(buf: Buffer): { frame: Frame; size: number } | undefined {
  if (buf.length < FRAME_HEADER_LENGTH) return undefined;
  const flagsAndLength = buf.readUInt32BE(4);
  const flags = flagsAndLength >>> 24;
  const length = flagsAndLength & 0xffffff;
  const size = FRAME_HEADER_LENGTH + length;
  if (buf.length < size) return undefined;
  const p = buf.subarray(FRAME_HEADER_LENGTH, size);
  if ((buf[0]! & 0x80) === 0) {
    const streamId = buf.readUInt32BE(0) & STREAM_ID_MASK;
    return { frame: { kind: "data", streamId, flags, data: Buffer.from(p) }, size };
  }
  const version = buf.readUInt16BE(0) & 0x7fff;
  if (version !== SPDY_VERSION) throw new SpdyProtocolError(`unsupported SPDY version ${version}`);
  const type = buf.readUInt16BE(2);
  const need = (n: number, what: string) => {
    if (length < n) throw new SpdyProtocolError(`${what} frame too short (${length} bytes)`);
  };
  switch (type) {
    case ControlType.SynStream:
      need(10, "SYN_STREAM");
      return {
        frame: {
          kind: "syn_stream",
          flags,
          streamId: p.readUInt32BE(0) & STREAM_ID_MASK,
          associatedStreamId: p.readUInt32BE(4) & STREAM_ID_MASK,
          priority: p[8]! >>> 5,
          slot: p[9]!,
          headerBlock: Buffer.from(p.subarray(10)),
        },
        size,
      };
    case ControlType.SynReply:
      need(4, "SYN_REPLY");
      return { frame: { kind: "syn_reply", flags, streamId: p.readUInt32BE(0) & STREAM_ID_MASK, headerBlock: Buffer.from(p.subarray(4)) }, size };
    case ControlType.Headers:
      need(4, "HEADERS");
      return { frame: { kind: "headers", flags, streamId: p.readUInt32BE(0) & STREAM_ID_MASK, headerBlock: Buffer.from(p.subarray(4)) }, size };
    case ControlType.RstStream:
      need(8, "RST_STREAM");
      return { frame: { kind: "rst_stream", streamId: p.readUInt32BE(0) & STREAM_ID_MASK, status: p.readUInt32BE(4) }, size };
    case ControlType.Settings: {
      need(4, "SETTINGS");
      const n = p.readUInt32BE(0);
      if (length !== 4 + n * 8) throw new SpdyProtocolError(`SETTINGS frame length ${length} does not fit ${n} entries`);
      const entries = [];
      for (let i = 0; i < n; i++) {
        const word = p.readUInt32BE(4 + i * 8);
        entries.push({ flags: word >>> 24, id: word & 0xffffff, value: p.readUInt32BE(8 + i * 8) });
      }
      return { frame: { kind: "settings", flags, entries }, size };
    }
    case ControlType.Ping:
      need(4, "PING");
      return { frame: { kind: "ping", id: p.readUInt32BE(0) }, size };
    case ControlType.GoAway:
      // SPDY/2 GOAWAY had no status; accept the 4-byte form too.
      need(4, "GOAWAY");
      return {
        frame: { kind: "goaway", lastGoodStreamId: p.readUInt32BE(0) & STREAM_ID_MASK, status: length >= 8 ? p.readUInt32BE(4) : 0 },
        size,
      };
    case ControlType.WindowUpdate:
      need(8, "WINDOW_UPDATE");
      return { frame: { kind: "window_update", streamId: p.readUInt32BE(0) & STREAM_ID_MASK, delta: p.readUInt32BE(4) & STREAM_ID_MASK }, size };
    default:
      return { frame: { kind: "unknown", type }, size };
  }
}
