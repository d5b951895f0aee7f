/**
 * A hand-driven SPDY/3.1 client for tests: sends the HTTP upgrade request
 * itself and, on 101, runs a client-role SpdySession on the socket, so a
 * test controls every stream, header and FIN the way kubectl would.
 */
import { connect, type Socket } from "node:net";
import { SpdySession } from "../spdy/session.js";
import type { SpdyStream } from "../spdy/stream.js";

export interface UpgradeResponse {
  readonly status: number;
  /** Lower-cased names; repeated headers keep every value. */
  readonly headers: Map<string, string[]>;
  /** Body of a non-101 response (up to what arrived before the server closed). */
  readonly body: string;
  /** The session, on 101. */
  readonly session?: SpdySession;
  readonly socket: Socket;
}

export interface UpgradeRequest {
  readonly url: string;
  /** `X-Stream-Protocol-Version` lines, in preference order. */
  readonly protocols: readonly string[];
  readonly method?: string;
  readonly extraHeaders?: readonly [string, string][];
}

/** Sends the upgrade request to `baseUrl` (http://host:port) and reads the response head. */
export function spdyUpgrade(baseUrl: string, req: UpgradeRequest): Promise<UpgradeResponse> {
  const base = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: base.hostname, port: Number(base.port) });
    const lines = [
      `${req.method ?? "POST"} ${req.url} HTTP/1.1`,
      `Host: ${base.host}`,
      "Connection: Upgrade",
      "Upgrade: SPDY/3.1",
      ...req.protocols.map((p) => `X-Stream-Protocol-Version: ${p}`),
      ...(req.extraHeaders ?? []).map(([k, v]) => `${k}: ${v}`),
      "Content-Length: 0",
    ];
    socket.once("error", reject);
    socket.write(`${lines.join("\r\n")}\r\n\r\n`);
    let buf = Buffer.alloc(0);
    let parsed: { status: number; headers: Map<string, string[]>; rest: Buffer } | undefined;
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (parsed) return;
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = buf.subarray(0, end).toString("latin1").split("\r\n");
      const status = Number(head[0]!.split(" ")[1]);
      const headers = new Map<string, string[]>();
      for (const line of head.slice(1)) {
        const i = line.indexOf(":");
        const name = line.slice(0, i).trim().toLowerCase();
        headers.set(name, [...(headers.get(name) ?? []), line.slice(i + 1).trim()]);
      }
      parsed = { status, headers, rest: buf.subarray(end + 4) };
      if (status === 101) {
        socket.off("data", onData);
        socket.off("error", reject);
        const session = new SpdySession(socket, { role: "client" }, parsed.rest);
        resolve({ status, headers, body: "", session, socket });
      }
    };
    socket.on("data", onData);
    socket.on("close", () => {
      if (parsed && parsed.status !== 101) {
        resolve({ status: parsed.status, headers: parsed.headers, body: buf.subarray(buf.indexOf("\r\n\r\n") + 4).toString("utf8"), socket });
      } else if (!parsed) {
        reject(new Error("connection closed before a response"));
      }
    });
  });
}

/** Reads a stream to its end. */
export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === "string" ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString("utf8");
}

/** The streams of an exec/attach session as client-go opens them (error first). */
export async function openCommandStreams(
  session: SpdySession,
  want: { stdin?: boolean; stdout?: boolean; stderr?: boolean; resize?: boolean },
): Promise<Partial<Record<"error" | "stdin" | "stdout" | "stderr" | "resize", SpdyStream>>> {
  const out: Partial<Record<"error" | "stdin" | "stdout" | "stderr" | "resize", SpdyStream>> = {};
  out.error = await session.openStream({ streamtype: "error" });
  // client-go closes its half of the error stream at once: it only reads it.
  out.error.end();
  if (want.stdin) out.stdin = await session.openStream({ streamtype: "stdin" });
  if (want.stdout) out.stdout = await session.openStream({ streamtype: "stdout" });
  if (want.stderr) out.stderr = await session.openStream({ streamtype: "stderr" });
  if (want.resize) out.resize = await session.openStream({ streamtype: "resize" });
  return out;
}
