/**
 * A WebSocket as a byte stream: each binary message is a chunk read, each
 * chunk written is one binary message. kubectl 1.31+ tunnels its SPDY
 * port-forward session through such a WebSocket (subprotocol
 * `SPDY/3.1+portforward.k8s.io`, client-go's TunnelingConnection), so the
 * SPDY session runs on this adapter unchanged. A text message is a protocol
 * error, as in client-go ("invalid message type received").
 */
import { Duplex } from "node:stream";
import type { WebSocket } from "ws";

const READ_HIGH_WATER_MARK = 256 * 1024;

export function webSocketDuplex(ws: WebSocket): Duplex {
  let ended = false;
  const duplex = new Duplex({
    allowHalfOpen: true,
    readableHighWaterMark: READ_HIGH_WATER_MARK,
    read() {
      if (ws.isPaused) ws.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      if (ws.readyState !== ws.OPEN) return cb();
      ws.send(chunk, { binary: true }, () => cb());
    },
    final(cb) {
      // The tunnel's end is a normal close (client-go maps 1000 to EOF).
      if (ws.readyState === ws.OPEN) ws.close(1000);
      cb();
    },
    destroy(err, cb) {
      if (ws.readyState !== ws.CLOSED) ws.terminate();
      cb(err);
    },
  });
  const end = () => {
    if (ended) return;
    ended = true;
    duplex.push(null);
  };
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    if (ended) return;
    if (!isBinary) {
      ws.close(1003, "invalid message type received");
      end();
      return;
    }
    if (!duplex.push(data)) ws.pause();
  });
  ws.on("close", () => {
    end();
    duplex.destroy();
  });
  ws.on("error", () => {
    end();
    duplex.destroy();
  });
  return duplex;
}
