/**
 * Query parameters of the kubelet's exec, attach and port-forward requests
 * (remotecommand.NewOptions, portforward.NewV4Options), with their error
 * texts.
 *
 * The API server rewrites the client's query before proxying (`stdin=true`
 * becomes `stdin=1`, `ports=80` becomes `port=80`). A pass-through proxy
 * forwards the client's form unchanged, so both forms are accepted here.
 */
import type { StreamOptions } from "../../../runtime/types.js";

export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

/** `1` (what the API server sends) or any true value of Go's strconv.ParseBool (what clients send). */
function flag(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v !== null && ["1", "t", "T", "true", "TRUE", "True"].includes(v);
}

/** Exec and attach streams: remotecommand.NewOptions (tty drops stderr; at least one stream). */
export function parseStreamOptions(q: URLSearchParams): ParseResult<StreamOptions> {
  const tty = flag(q, "tty");
  const stdin = flag(q, "stdin");
  const stdout = flag(q, "stdout");
  // Upstream: "Access to exec with tty and stderr is not supported, bypassing stderr".
  const stderr = flag(q, "stderr") && !tty;
  if (!stdin && !stdout && !stderr) return { ok: false, message: "you must specify at least 1 of stdin, stdout, stderr" };
  return { ok: true, value: { stdin, stdout, stderr, tty } };
}

/** The command of an exec (`command`, repeated). */
export function parseCommand(q: URLSearchParams): ParseResult<string[]> {
  const command = q.getAll("command");
  if (command.length === 0) return { ok: false, message: "you must specify at least one command for the container" };
  return { ok: true, value: command };
}

function parsePort(text: string, raw: string): ParseResult<number> {
  if (!/^\d+$/.test(text)) return { ok: false, message: `unable to parse "${raw}" as a port: strconv.ParseUint: parsing "${text}": invalid syntax` };
  const port = Number(text);
  if (port > 65535) return { ok: false, message: `unable to parse "${raw}" as a port: strconv.ParseUint: parsing "${text}": value out of range` };
  if (port < 1) return { ok: false, message: `port "${raw}" must be > 0` };
  return { ok: true, value: port };
}

/** Ports of a WebSocket port-forward: portforward.NewV4Options (`port`, repeated or comma-separated). */
export function parsePorts(q: URLSearchParams): ParseResult<number[]> {
  const raw = [...q.getAll("port"), ...q.getAll("ports")];
  if (raw.length === 0) return { ok: false, message: `query parameter "port" is required` };
  const ports: number[] = [];
  for (const s of raw) {
    if (s.length === 0) return { ok: false, message: `query parameter "port" cannot be empty` };
    for (const p of s.split(",")) {
      const r = parsePort(p, s);
      if (!r.ok) return r;
      ports.push(r.value);
    }
  }
  return { ok: true, value: ports };
}

/** The `port` header of a SPDY port-forward stream (httpStreamReceived). */
export function parsePortHeader(value: string): ParseResult<number> {
  if (value.length === 0) return { ok: false, message: `"port" header is required` };
  return parsePort(value, value);
}
