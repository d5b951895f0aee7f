/**
 * Copies one forwarded connection both ways between the client's data
 * stream and the runtime's connection to the port, as CRI runtimes
 * (containerd's portForward) do: each side's EOF half-closes the other;
 * once one direction has ended the other gets a short grace period
 * (`graceMs`, 1 s upstream) to finish, then the connection is torn down.
 * An error on the runtime side ends it at once and is returned, to be
 * written to the client's error stream.
 */
import type { Duplex } from "node:stream";

type Upstream = NodeJS.ReadWriteStream & { destroy?: () => void };

/**
 * Resolves when the connection is over: with the runtime side's error
 * message, or undefined for a clean end. `gone` ends it when the client's
 * connection is lost. The caller closes the client streams; this destroys
 * the runtime connection.
 */
export function forwardConnection(client: Duplex, upstream: Upstream, graceMs: number, gone?: Promise<void>): Promise<string | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    let error: string | undefined;
    let clientDone = false;
    let upstreamDone = false;
    let grace: NodeJS.Timeout | undefined;

    const finish = () => {
      if (settled) return;
      settled = true;
      if (grace) clearTimeout(grace);
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.off("end", onClientEnd);
      client.off("close", finish);
      client.off("reset", finish);
      upstream.off("end", onUpstreamEnd);
      upstream.off("close", finish);
      // Late errors of a torn-down connection are expected; keep a listener so they are not fatal.
      upstream.on("error", () => undefined);
      upstream.destroy?.();
      resolve(error);
    };
    const oneDone = () => {
      if (clientDone && upstreamDone) finish();
      else grace ??= setTimeout(finish, graceMs);
    };
    const onClientEnd = () => {
      clientDone = true;
      oneDone();
    };
    const onUpstreamEnd = () => {
      upstreamDone = true;
      // Our FIN on the data stream: the client reads EOF right away.
      if (!client.writableEnded) client.end();
      oneDone();
    };

    client.pipe(upstream);
    upstream.pipe(client, { end: false });
    client.on("end", onClientEnd);
    client.on("close", finish);
    client.on("reset", finish);
    upstream.on("end", onUpstreamEnd);
    upstream.on("close", finish);
    upstream.on("error", (err: Error) => {
      error ??= err.message;
      finish();
    });
    void gone?.then(finish);
  });
}
