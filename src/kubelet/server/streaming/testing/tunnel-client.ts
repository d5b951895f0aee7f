/**
 * The client end of kubectl 1.31+'s port-forward tunnel for tests: a
 * WebSocket handshake with subprotocol `SPDY/3.1+portforward.k8s.io` and a
 * byte stream over its binary messages. Written by hand because the `ws`
 * client refuses that subprotocol name ('/' is not an RFC 6455 token
 * character) while Go's gorilla/websocket, which kubectl uses, sends it.
 */
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import type { Socket } from "node:net";
import { Duplex } from "node:stream";

export interface TunnelConnection {
  readonly protocol: string | undefined;
  readonly stream: Duplex;
}

/** Upgrades `url` (http://…) with the given subprotocol header value; rejects on a non-101 answer. */
export function openTunnel(url: string, protocol: string): Promise<TunnelConnection> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
        "Sec-WebSocket-Protocol": protocol,
      },
    });
    req.on("upgrade", (res, socket: Socket, head: Buffer) => {
      const chosen = res.headers["sec-websocket-protocol"];
      resolve({ protocol: typeof chosen === "string" ? chosen : undefined, stream: frameStream(socket, head) });
    });
    req.on("response", (res) => reject(new Error(`websocket upgrade answered ${res.statusCode}`)));
    req.on("error", reject);
    req.end();
  });
}

/** Client-side WebSocket framing: masked binary frames out, server frames in. */
function frameStream(socket: Socket, head: Buffer): Duplex {
  let buf = head;
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      socket.write(frame(0x2, chunk), cb);
    },
    final(cb) {
      socket.write(frame(0x8, Buffer.from([0x03, 0xe8])), () => cb());
    },
    destroy(err, cb) {
      socket.destroy();
      cb(err);
    },
  });
  const parse = () => {
    for (;;) {
      if (buf.length < 2) return;
      const opcode = buf[0]! & 0x0f;
      let len = buf[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      if (buf.length < off + len) return;
      const payload = buf.subarray(off, off + len);
      buf = buf.subarray(off + len);
      if (opcode === 0x2 || opcode === 0x0) {
        if (!duplex.push(Buffer.from(payload))) socket.pause();
      } else if (opcode === 0x8) {
        duplex.push(null);
        socket.end();
        return;
      } else if (opcode === 0x9) {
        socket.write(frame(0xa, payload));
      }
    }
  };
  socket.on("data", (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    parse();
  });
  socket.on("close", () => duplex.destroy());
  parse();
  return duplex;
}

function frame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const len = payload.length;
  const headLen = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = Buffer.alloc(headLen + 4 + len);
  out[0] = 0x80 | opcode;
  if (len < 126) out[1] = 0x80 | len;
  else if (len < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(len), 2);
  }
  mask.copy(out, headLen);
  for (let i = 0; i < len; i++) out[headLen + 4 + i] = payload[i]! ^ mask[i % 4]!;
  return out;
}
