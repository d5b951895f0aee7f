import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { eventually } from "../../test/support/eventually.js";
import { silentLogger } from "../machinery/log.js";
import { readServerList, startServerBalancer } from "./server-balancer.js";

/** A stand-in API server: answers each connection with its name, and remembers open sockets. */
async function fakeServer(name: string): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const sockets = new Set<import("node:net").Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
    s.write(name);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `https://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Connects through the balancer; resolves with the first bytes and the socket. */
function through(url: string): Promise<{ text: string; closed: Promise<void> }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect({ host: u.hostname, port: Number(u.port) });
    const closed = new Promise<void>((r) => s.once("close", () => r()));
    s.once("data", (d) => resolve({ text: d.toString(), closed }));
    s.once("error", reject);
  });
}

describe("server balancer", () => {
  const dir = mkdtempSync(join(tmpdir(), "skiff-balancer-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("sticks to the first server, moves to the next when it dies (closing what was open to it), and keeps the list on disk", async () => {
    const a = await fakeServer("a");
    const b = await fakeServer("b");
    const stateFile = join(dir, "server-list.json");
    const lb = await startServerBalancer({ servers: [a.url, b.url], stateFile, logger: silentLogger, healthIntervalMs: 100 });
    try {
      const first = await through(lb.url);
      assert.equal(first.text, "a");
      assert.equal((await through(lb.url)).text, "a", "sticky while healthy");
      assert.deepEqual(readServerList(stateFile), [a.url, b.url]);

      await a.close();
      await first.closed;
      await eventually("the balancer to move to b", () => lb.active() === b.url, 10_000, 50);
      assert.equal((await through(lb.url)).text, "b");

      // A list learned later (the kubernetes endpoints) replaces the kept one; the active server stays.
      const c = await fakeServer("c");
      lb.setServers([c.url, b.url]);
      assert.equal(lb.active(), b.url);
      assert.deepEqual(readServerList(stateFile), [c.url, b.url]);
      await b.close();
      await eventually("the balancer to move to c", () => lb.active() === c.url, 10_000, 50);
      assert.equal((await through(lb.url)).text, "c");
      await c.close();
    } finally {
      await lb.stop();
    }
  });

  test("a restarted balancer starts from the kept list when its own server is gone", async () => {
    const stateFile = join(dir, "restart.json");
    const live = await fakeServer("live");
    const gone = "https://127.0.0.1:1";
    const first = await startServerBalancer({ servers: [gone, live.url], stateFile, logger: silentLogger, healthIntervalMs: 100 });
    await first.stop();
    const lb = await startServerBalancer({ servers: [gone], stateFile, logger: silentLogger, healthIntervalMs: 100 });
    try {
      // The first connection finds the dead server, fails over within the same connection attempt.
      assert.equal((await through(lb.url)).text, "live");
      assert.equal(lb.active(), live.url);
      assert.ok(readFileSync(stateFile, "utf8").includes(live.url));
    } finally {
      await lb.stop();
      await live.close();
    }
  });
});
