/**
 * Exec and attach over SPDY/3.1 (remotecommand's createHTTPStreamStreams):
 * negotiate the protocol version, switch protocols, then wait for the
 * client to open one stream per wanted channel — error, stdin, stdout,
 * stderr, and resize for a tty on v3+ — identified by the `streamType`
 * header, for at most the stream creation timeout.
 *
 * Versions differ only in the error stream: v4 carries a metav1.Status JSON
 * (with the exit code); v1–v3 carry the failure message only. v1 keeps
 * 1.0-era behaviour: the server half-closes stdin and resets the error
 * stream as soon as the streams are set up.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "../../../machinery/log.js";
import type { StreamOptions } from "../../../runtime/types.js";
import type { CommandStreams } from "./command-streams.js";
import { waitClosed } from "./finish-wait.js";
import { spdyHandshake, writeSpdySwitchingProtocols } from "./http-upgrade.js";
import { SpdySession } from "./spdy/session.js";
import type { SpdyStream } from "./spdy/stream.js";
import { encodeStatus, type StreamStatus } from "./status.js";

/** remotecommand.SupportedStreamingProtocols, preferred first (the client's order decides). */
export const SPDY_COMMAND_PROTOCOLS = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"] as const;

type StreamType = "error" | "stdin" | "stdout" | "stderr" | "resize";

export interface SpdyCommandOptions {
  readonly idleTimeoutMs: number;
  readonly streamCreationTimeoutMs: number;
  readonly finishTimeoutMs: number;
  readonly logger: Logger;
}

function protocolVersion(protocol: string): number {
  const m = /^v(\d)\.channel\.k8s\.io$/.exec(protocol);
  return m ? Number(m[1]) : 1;
}

/**
 * Upgrades `socket` and waits for the client's streams. Resolves undefined
 * when the handshake failed (already answered), the client did not open its
 * streams in time, or it went away.
 */
export function createSpdyCommandStreams(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  opts: StreamOptions,
  o: SpdyCommandOptions,
): Promise<CommandStreams | undefined> {
  const protocol = spdyHandshake(req, socket, SPDY_COMMAND_PROTOCOLS);
  if (!protocol) return Promise.resolve(undefined);
  writeSpdySwitchingProtocols(socket, protocol);
  const version = protocolVersion(protocol);
  const log = o.logger.with({ protocol });
  const expected = 1 + Number(opts.stdin) + Number(opts.stdout) + Number(opts.stderr) + Number(opts.tty && version >= 3);
  const got: Partial<Record<StreamType, SpdyStream>> = {};
  let received = 0;
  let setUp = false;

  return new Promise((resolve) => {
    const session = new SpdySession(
      socket,
      {
        role: "server",
        idleTimeoutMs: o.idleTimeoutMs,
        logger: log,
        onStream: (stream) => {
          const type = stream.header("streamType");
          if (setUp) {
            log.warn("stream opened after the session was set up, refusing it", { streamType: type });
            return false;
          }
          const known = type === "error" || type === "stdin" || type === "stdout" || type === "stderr" || (type === "resize" && version >= 3);
          if (!known) {
            // Upstream logs and ignores it; it does not count towards the expected streams.
            log.warn(`unexpected stream type: ${JSON.stringify(type)}`);
            stream.resume();
            return true;
          }
          got[type as StreamType] = stream;
          // The client sends nothing on these; reading lets its FIN through.
          if (type !== "stdin" && type !== "resize") stream.resume();
          received++;
          if (received === expected) {
            setUp = true;
            clearTimeout(timer);
            resolve(build());
          }
          return true;
        },
      },
      head,
    );
    const timer = setTimeout(() => {
      if (setUp) return;
      log.error("timed out waiting for client to create streams", { expected, received });
      setUp = true;
      session.close();
      resolve(undefined);
    }, o.streamCreationTimeoutMs);
    void session.closed.then(() => {
      if (setUp) return;
      setUp = true;
      clearTimeout(timer);
      resolve(undefined);
    });

    const build = (): CommandStreams => {
      if (version === 1) {
        // 1.0-era kubelets did exactly this (see the file comment).
        if (got.stdin) got.stdin.end();
        got.error?.reset();
      }
      return {
        transport: "spdy",
        protocol,
        stdin: got.stdin,
        stdout: got.stdout,
        stderr: got.stderr,
        resize: got.resize,
        closed: session.closed,
        abort: () => session.destroy(),
        finish: async (status: StreamStatus) => {
          for (const s of [got.stdin, got.resize]) {
            if (!s) continue;
            s.unpipe();
            s.removeAllListeners("data");
            s.resume();
            if (!s.writableEnded) s.end();
          }
          const bytes = encodeStatus(status, version >= 4);
          if (got.error && bytes && !got.error.isLocalClosed) got.error.write(bytes);
          for (const s of [got.stdout, got.stderr, got.error]) if (s && !s.writableEnded) s.end();
          if (!(await waitClosed(session.closed, o.finishTimeoutMs))) {
            log.info("client did not close the streaming connection after the command finished, closing it");
            session.close();
            await session.closed;
          }
        },
      };
    };
  });
}
