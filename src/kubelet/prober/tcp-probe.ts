/**
 * The tcpSocket handler (upstream pkg/probe/tcp DoTCPProbe): a connection
 * that opens within the timeout is success (closed at once); anything else
 * a failure with Go's dial error text (`dial tcp 10.42.0.7:80: connect:
 * connection refused`, `dial tcp 10.42.0.7:80: i/o timeout`).
 */
import { connect } from "node:net";
import { goDialError } from "./go-net-errors.js";
import { joinHostPort } from "./port.js";
import { type HandlerOutcome, outcome } from "./types.js";

/** Opens and closes one TCP connection to `host:port`. */
export function tcpProbe(host: string, port: number, timeoutMs: number): Promise<HandlerOutcome> {
  const hostPort = joinHostPort(host, port);
  return new Promise((resolve) => {
    let settled = false;
    const socket = connect({ host, port });
    const timer = setTimeout(() => finish(outcome.failure(`dial tcp ${hostPort}: i/o timeout`)), Math.max(0, timeoutMs));
    function finish(o: HandlerOutcome): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    }
    socket.once("connect", () => finish(outcome.success()));
    socket.once("error", (err) => finish(outcome.failure(goDialError(err, hostPort))));
  });
}
