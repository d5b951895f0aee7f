/**
 * Node's socket errors rendered as Go's net package prints them, because
 * probe failures reach users verbatim (events such as `Liveness probe
 * failed: Get "http://10.42.0.7:8080/healthz": dial tcp 10.42.0.7:8080:
 * connect: connection refused`).
 */

const CONNECT_ERRNO: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  EHOSTUNREACH: "no route to host",
  ENETUNREACH: "network is unreachable",
  EADDRNOTAVAIL: "cannot assign requested address",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ETIMEDOUT: "connection timed out",
};

/** `dial tcp HOST:PORT: connect: connection refused` and friends, for an error raised while connecting. */
export function goDialError(err: unknown, hostPort: string): string {
  const e = err as NodeJS.ErrnoException;
  const code = e?.code ?? "";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return `dial tcp: lookup ${hostPort.replace(/:\d+$/, "").replace(/^\[|\]$/g, "")}: no such host`;
  const text = CONNECT_ERRNO[code];
  if (text) return `dial tcp ${hostPort}: connect: ${text}`;
  return `dial tcp ${hostPort}: ${e?.message ?? String(err)}`;
}

/** An error raised once connected (reads, TLS), as Go's http client words it. */
export function goTransportError(err: unknown, hostPort: string, connected: boolean): string {
  const e = err as NodeJS.ErrnoException & { reason?: string };
  const code = e?.code ?? "";
  if (!connected && (code in CONNECT_ERRNO || code === "ENOTFOUND" || code === "EAI_AGAIN")) return goDialError(err, hostPort);
  // A plain-HTTP server answering a TLS client hello.
  if (code === "EPROTO" || code === "ERR_SSL_WRONG_VERSION_NUMBER" || /wrong version number/i.test(e?.message ?? "")) {
    return "http: server gave HTTP response to HTTPS client";
  }
  // The peer closed without an answer: Go reports the bare EOF.
  if (e?.message === "socket hang up") return "EOF";
  if (code === "ECONNRESET") return `read tcp ${hostPort}: read: connection reset by peer`;
  if (code === "EPIPE") return `write tcp ${hostPort}: write: broken pipe`;
  return e?.message ?? String(err);
}
