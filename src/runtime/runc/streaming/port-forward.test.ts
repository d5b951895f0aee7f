import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { execSync } from "./exec-sync.js";
import { portForward } from "./port-forward.js";
import { makeTestHost, type TestContainer, type TestHost } from "./test-fixture.js";

function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    stream.on("data", (c: Buffer) => {
      text += c.toString("utf8");
    });
    stream.once("end", () => resolve(text));
    stream.once("error", reject);
  });
}

/** Runs until `cmd` succeeds in the container (a server's socket is up), bounded. */
async function until(ctr: TestContainer, cmd: string[]): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await execSync(ctr.target, cmd, 5);
    if (r.ok && r.value.exitCode === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never succeeded: ${cmd.join(" ")}`);
}

/** A hung stream fails its test (and cleanup still runs) instead of hanging the suite. */
const LIMIT = { timeout: 60_000 };

describe("runc portForward (inside the sandbox's network namespace)", () => {
  let host: TestHost;
  /** Port-forward targets the pod's network namespace; any of its containers names it. */
  let echo: TestContainer;
  before(async () => {
    host = await makeTestHost();
    const netns = await host.makeNetns();
    // An echo server forking one `cat` per connection, and a web server, in one pod network.
    echo = await host.makeContainer({ args: ["nc", "-ll", "-p", "8080", "-e", "cat"], netnsPath: netns });
    await host.makeContainer({
      args: ["sh", "-c", "mkdir -p /www && echo hello-from-httpd > /www/index.html && exec httpd -f -p 8081 -h /www"],
      netnsPath: netns,
    });
    await until(echo, ["sh", "-c", "netstat -ltn | grep -q ':8080 ' && netstat -ltn | grep -q ':8081 '"]);
  });
  after(async () => {
    await host?.cleanup();
  });

  it("relays bytes both ways; ending the client side half-closes, the server's answer still arrives", LIMIT, async () => {
    const r = await portForward(echo.target, 8080);
    assert.ok(r.ok, JSON.stringify(r));
    const done = readAll(r.value);
    r.value.write("ping\n");
    r.value.end("pong\n");
    assert.equal(await done, "ping\npong\n");
  });

  it("serves two connections at once, each its own", LIMIT, async () => {
    const [a, b] = await Promise.all([portForward(echo.target, 8080), portForward(echo.target, 8080)]);
    assert.ok(a.ok && b.ok);
    const da = readAll(a.value);
    const db = readAll(b.value);
    a.value.write("first-a\n");
    b.value.write("first-b\n");
    a.value.end("second-a\n");
    b.value.end("second-b\n");
    assert.equal(await da, "first-a\nsecond-a\n");
    assert.equal(await db, "first-b\nsecond-b\n");
  });

  it("speaks HTTP to a server in the pod", LIMIT, async () => {
    const r = await portForward(echo.target, 8081);
    assert.ok(r.ok);
    const done = readAll(r.value);
    r.value.end("GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n");
    const response = await done;
    assert.match(response, /^HTTP\/1\.[01] 200 OK\r\n/);
    assert.match(response, /\r\n\r\nhello-from-httpd\n$/);
  });

  it("nothing listening is a failure value with upstream's message", LIMIT, async () => {
    const r = await portForward(echo.target, 8099);
    assert.equal(r.ok, false);
    assert.ok(!r.ok);
    assert.equal(r.error.code, "Unavailable");
    assert.equal(
      r.error.message.replace(/IPv6 dial tcp6 \[::1\]:8099: connect: .*$/, "IPv6 dial tcp6 [::1]:8099: connect: <v6 error>"),
      `failed to connect to localhost:8099 inside namespace "${echo.target.netnsPath}", IPv4: dial tcp4 127.0.0.1:8099: connect: connection refused IPv6 dial tcp6 [::1]:8099: connect: <v6 error>`,
    );
  });

  it("destroying the stream closes the connection", LIMIT, async () => {
    const r = await portForward(echo.target, 8080);
    assert.ok(r.ok);
    const stream = r.value as NodeJS.ReadWriteStream & { destroy(): void };
    const first = new Promise((resolve) => stream.once("data", resolve));
    stream.write("x\n");
    await first;
    // The server forked a `cat` for this connection; it ends once the connection closes.
    const liveCats = ["sh", "-c", "ps -o stat,comm | grep -v '^Z' | grep -c ' cat$'"];
    const before = await execSync(echo.target, liveCats, 5);
    assert.ok(before.ok);
    assert.equal(before.value.stdout.toString().trim(), "1");
    stream.destroy();
    await until(echo, ["sh", "-c", "! ps -o stat,comm | grep -v '^Z' | grep -q ' cat$'"]);
  });

  it("rejects impossible ports and a missing namespace", LIMIT, async () => {
    const bad = await portForward(echo.target, 70000);
    assert.equal(!bad.ok && bad.error.code, "InvalidArgument");
    const gone = await portForward({ ...echo.target, netnsPath: "/run/netns/skiff-no-such-netns" }, 8080);
    assert.equal(!gone.ok && gone.error.code, "NotFound");
  });
});
