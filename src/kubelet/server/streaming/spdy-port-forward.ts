/**
 * Port-forward over a SPDY session (portforward's httpStreamHandler): the
 * client opens a pair of streams per forwarded connection, `streamType`
 * `error` and `data`, both with the `port` and the same `requestID` header.
 * Once both are there the runtime's connection to the port is copied to
 * and from the data stream; a failure is written to the error stream as
 * text. Any number of pairs, for any ports, may be live at once; the
 * session lasts until the client closes it (or the idle timeout).
 */
import type { Logger } from "../../../machinery/log.js";
import type { StreamingService } from "../../../runtime/types.js";
import { forwardConnection } from "./forward-connection.js";
import { parsePortHeader } from "./options.js";
import type { SpdySession } from "./spdy/session.js";
import type { SpdyStream } from "./spdy/stream.js";

/** portforward.SupportedProtocols. */
export const PORT_FORWARD_PROTOCOL = "portforward.k8s.io";

interface StreamPair {
  readonly requestId: string;
  data?: SpdyStream;
  error?: SpdyStream;
  timer?: NodeJS.Timeout;
}

export interface SpdyPortForwardContext {
  readonly podSandboxId: string;
  readonly runtime: StreamingService;
  readonly streamCreationTimeoutMs: number;
  readonly graceMs: number;
  readonly log: Logger;
}

/** The upstream error text for a failed forward (CRI: pod is the sandbox id, uid is empty). */
export function forwardErrorMessage(port: number, podSandboxId: string, err: string): string {
  return `error forwarding port ${port} to pod ${podSandboxId}, uid : ${err}`;
}

/**
 * Returns the `onStream` callback for a server-role SpdySession and a
 * function to attach the session once it exists (the callback needs it to
 * tell when the client went away).
 */
export function spdyPortForwardHandler(ctx: SpdyPortForwardContext): {
  onStream: (stream: SpdyStream) => boolean;
  attach: (session: SpdySession) => void;
} {
  const pairs = new Map<string, StreamPair>();
  let session: SpdySession | undefined;

  const printError = (pair: StreamPair, message: string) => {
    if (pair.error && !pair.error.isLocalClosed) pair.error.write(message);
  };

  const requestIdOf = (stream: SpdyStream, streamType: string): string => {
    const id = stream.header("requestID");
    if (id) return id;
    // Clients older than the requestID header open error then data streams
    // back to back: pair them by stream id, best effort (as upstream).
    return String(streamType === "error" ? stream.id : stream.id - 2);
  };

  const forward = async (pair: StreamPair) => {
    const data = pair.data!;
    const errorStream = pair.error!;
    const port = Number(data.header("port"));
    const log = ctx.log.with({ port, request: pair.requestId });
    log.debug("forwarding port");
    const conn = await ctx.runtime.portForward(ctx.podSandboxId, port);
    const err = conn.ok ? await forwardConnection(data, conn.value, ctx.graceMs, session?.closed) : conn.error.message;
    if (err !== undefined) {
      const message = forwardErrorMessage(port, ctx.podSandboxId, err);
      log.info("port forward failed", { err: message });
      printError(pair, message);
    }
    if (!errorStream.writableEnded) errorStream.end();
    if (!data.writableEnded) data.end();
    // Whatever the client still sends on this connection has nowhere to go.
    data.unpipe();
    data.resume();
    log.debug("port forward connection done");
  };

  const onStream = (stream: SpdyStream): boolean => {
    const port = parsePortHeader(stream.header("port"));
    if (!port.ok) {
      ctx.log.warn("refusing port-forward stream", { err: port.message });
      return false;
    }
    const streamType = stream.header("streamType");
    if (streamType.length === 0 || (streamType !== "error" && streamType !== "data")) {
      ctx.log.warn("refusing port-forward stream", {
        err: streamType.length === 0 ? `"streamType" header is required` : `invalid stream type ${JSON.stringify(streamType)}`,
      });
      return false;
    }
    const requestId = requestIdOf(stream, streamType);
    let pair = pairs.get(requestId);
    if (!pair) {
      const created: StreamPair = { requestId };
      pair = created;
      pairs.set(requestId, created);
      created.timer = setTimeout(() => {
        const message = `(conn=${ctx.podSandboxId}, request=${requestId}) timed out waiting for streams`;
        ctx.log.warn(message);
        printError(created, message);
        if (created.error && !created.error.writableEnded) created.error.end();
        if (created.data && !created.data.writableEnded) created.data.end();
        pairs.delete(requestId);
      }, ctx.streamCreationTimeoutMs);
    }
    if ((streamType === "error" && pair.error) || (streamType === "data" && pair.data)) {
      const message = `error processing stream for request ${requestId}: ${streamType} stream already assigned`;
      ctx.log.warn(message);
      printError(pair, message);
      stream.resume();
      return true;
    }
    if (streamType === "error") {
      pair.error = stream;
      // The client closes its half at once; reading lets that FIN through.
      stream.resume();
    } else {
      pair.data = stream;
    }
    if (pair.data && pair.error) {
      clearTimeout(pair.timer);
      pairs.delete(requestId);
      const complete = pair;
      void forward(complete).catch((err: Error) => ctx.log.error("port forward failed unexpectedly", { err: err.stack ?? err.message }));
    }
    return true;
  };

  return {
    onStream,
    attach: (s) => {
      session = s;
      void s.closed.then(() => {
        for (const p of pairs.values()) clearTimeout(p.timer);
        pairs.clear();
      });
    },
  };
}
