/**
 * Exec and attach over SPDY/3.1, driven stream by stream the way client-go
 * does it, against the handlers behind a fake API front and a runtime that
 * runs commands as host processes.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type FakeApi, startFakeApi } from "./testing/fake-api.js";
import { FakeStreamingRuntime } from "./testing/fake-runtime.js";
import { openCommandStreams, readAll, spdyUpgrade } from "./testing/spdy-client.js";

const EXEC = "/api/v1/namespaces/default/pods/web/exec";
const ATTACH = "/api/v1/namespaces/default/pods/web/attach";
const V4 = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"];

function execUrl(cmd: readonly string[], flags: Record<string, boolean>): string {
  const q = new URLSearchParams();
  for (const c of cmd) q.append("command", c);
  for (const [k, v] of Object.entries(flags)) if (v) q.set(k, "true");
  q.set("container", "app");
  return `${EXEC}?${q}`;
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

describe("exec and attach over SPDY", () => {
  let runtime: FakeStreamingRuntime;
  let api: FakeApi;
  let shortApi: FakeApi;

  before(async () => {
    runtime = new FakeStreamingRuntime();
    api = await startFakeApi(runtime);
    shortApi = await startFakeApi(runtime, { streamCreationTimeoutMs: 200 });
  });
  after(async () => {
    runtime.cleanup();
    await api.close();
    await shortApi.close();
  });

  it("reports a non-zero exit as the upstream Status, after all the output", async () => {
    const res = await spdyUpgrade(api.url, { url: execUrl(["sh", "-c", "echo out; echo err >&2; exit 3"], { stdout: true, stderr: true }), protocols: V4 });
    assert.equal(res.status, 101);
    assert.deepEqual(res.headers.get("x-stream-protocol-version"), ["v4.channel.k8s.io"]);
    assert.deepEqual(res.headers.get("upgrade"), ["SPDY/3.1"]);
    const s = await openCommandStreams(res.session!, { stdout: true, stderr: true });
    const [out, err, status] = await Promise.all([readAll(s.stdout!), readAll(s.stderr!), readAll(s.error!)]);
    assert.equal(out, "out\n");
    assert.equal(err, "err\n");
    assert.equal(
      status,
      '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c echo out; echo err >&2; exit 3], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}',
    );
    res.session!.destroy();
  });

  it("reports success as {metadata:{}, status: Success}", async () => {
    const res = await spdyUpgrade(api.url, { url: execUrl(["echo", "hi"], { stdout: true }), protocols: V4 });
    const s = await openCommandStreams(res.session!, { stdout: true });
    assert.equal(await readAll(s.stdout!), "hi\n");
    assert.equal(await readAll(s.error!), '{"metadata":{},"status":"Success"}');
    res.session!.destroy();
  });

  it("closes the process's stdin at the client's FIN, and half-closes stdin back", async () => {
    const res = await spdyUpgrade(api.url, { url: execUrl(["cat"], { stdin: true, stdout: true }), protocols: V4 });
    const s = await openCommandStreams(res.session!, { stdin: true, stdout: true });
    s.stdin!.write("first ");
    s.stdin!.end("second");
    assert.equal(await readAll(s.stdout!), "first second");
    assert.equal(await readAll(s.error!), '{"metadata":{},"status":"Success"}');
    // The server closes its half of stdin too, which client-go waits for.
    assert.equal(await readAll(s.stdin!), "");
    res.session!.destroy();
  });

  it("passes terminal resizes to the session, JSON split anywhere, zero sizes skipped", async () => {
    const before = runtime.resizes.length;
    const res = await spdyUpgrade(api.url, {
      url: execUrl(["sh", "-c", "read line; echo got $line"], { stdin: true, stdout: true, stderr: true, tty: true }),
      protocols: V4,
    });
    // tty drops stderr: client-go opens no stderr stream then.
    const s = await openCommandStreams(res.session!, { stdin: true, stdout: true, resize: true });
    s.resize!.write('{"Width":80,');
    s.resize!.write('"Height":24}\n{"Width":0,"Height":0}{"width":120');
    s.resize!.write(',"height":40}\n');
    await until(() => runtime.resizes.length >= before + 2);
    s.stdin!.end("x\n");
    // A terminal echoes the input and ends lines with CR LF.
    assert.equal(await readAll(s.stdout!), "x\r\ngot x\r\n");
    assert.equal(await readAll(s.error!), '{"metadata":{},"status":"Success"}');
    assert.deepEqual(runtime.resizes.slice(before), [
      { width: 80, height: 24 },
      { width: 120, height: 40 },
    ]);
    // The first size is the terminal's size at start; later ones are resizes.
    assert.deepEqual(runtime.execCalls.at(-1)!.opts, { stdin: true, stdout: true, stderr: false, tty: true, initialSize: { width: 80, height: 24 } });
    res.session!.destroy();
  });

  it("sends v1–v3 clients the failure message only", async () => {
    const fail = await spdyUpgrade(api.url, { url: execUrl(["sh", "-c", "exit 3"], { stdout: true }), protocols: ["v3.channel.k8s.io"] });
    assert.deepEqual(fail.headers.get("x-stream-protocol-version"), ["v3.channel.k8s.io"]);
    const f = await openCommandStreams(fail.session!, { stdout: true });
    assert.equal(await readAll(f.error!), "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3");
    fail.session!.destroy();
    const success = await spdyUpgrade(api.url, { url: execUrl(["true"], { stdout: true }), protocols: ["v2.channel.k8s.io"] });
    const s = await openCommandStreams(success.session!, { stdout: true });
    assert.equal(await readAll(s.error!), "");
    success.session!.destroy();
  });

  it("answers 403 listing the accepted versions when none matches", async () => {
    const res = await spdyUpgrade(api.url, { url: execUrl(["true"], { stdout: true }), protocols: ["v9.channel.k8s.io", "v8.channel.k8s.io"] });
    assert.equal(res.status, 403);
    assert.deepEqual(res.headers.get("x-accepted-stream-protocol-versions"), V4);
    assert.equal(
      res.body,
      "unable to upgrade: unable to negotiate protocol: client supports [v9.channel.k8s.io v8.channel.k8s.io], server accepts [v4.channel.k8s.io v3.channel.k8s.io v2.channel.k8s.io channel.k8s.io]\n",
    );
  });

  it("answers 400 to a request without any stream or command, before upgrading", async () => {
    const none = await spdyUpgrade(api.url, { url: execUrl(["true"], {}), protocols: V4 });
    assert.equal(none.status, 400);
    assert.equal(none.body, "you must specify at least 1 of stdin, stdout, stderr\n");
    const noCommand = await spdyUpgrade(api.url, { url: `${EXEC}?stdout=true`, protocols: V4 });
    assert.equal(noCommand.status, 400);
    assert.equal(noCommand.body, "you must specify at least one command for the container\n");
  });

  it("closes the connection when the client does not open its streams in time", async () => {
    const calls = runtime.execCalls.length;
    const res = await spdyUpgrade(shortApi.url, { url: execUrl(["true"], { stdout: true, stderr: true }), protocols: V4 });
    await openCommandStreams(res.session!, { stdout: true });
    await res.session!.closed;
    assert.equal(res.session!.receivedGoAway, true);
    assert.equal(runtime.execCalls.length, calls, "the command never ran");
  });

  it("waits for the client to close after the status, then closes a lingering one itself", async () => {
    const linger = await startFakeApi(runtime, { finishTimeoutMs: 200 });
    const res = await spdyUpgrade(linger.url, { url: execUrl(["echo", "bye"], { stdout: true }), protocols: V4 });
    const s = await openCommandStreams(res.session!, { stdout: true });
    assert.equal(await readAll(s.stdout!), "bye\n");
    assert.equal(await readAll(s.error!), '{"metadata":{},"status":"Success"}');
    // The client keeps the connection open; the server gives up after the finish timeout.
    await res.session!.closed;
    assert.equal(res.session!.receivedGoAway, true);
    await linger.close();
  });

  it("reports a runtime that cannot start the command as an InternalError Status", async () => {
    runtime.failNextExec = { code: "Unknown", message: 'exec: "nope": executable file not found in $PATH' };
    const res = await spdyUpgrade(api.url, { url: execUrl(["nope"], { stdout: true }), protocols: V4 });
    const s = await openCommandStreams(res.session!, { stdout: true });
    assert.equal(await readAll(s.stdout!), "");
    const inner = 'error executing command in container: exec: "nope": executable file not found in $PATH';
    assert.deepEqual(JSON.parse(await readAll(s.error!)), {
      metadata: {},
      status: "Failure",
      message: `Internal error occurred: ${inner}`,
      reason: "InternalError",
      details: { causes: [{ message: inner }] },
      code: 500,
    });
    res.session!.destroy();
  });

  it("ends with a clean error Status when the runtime dies mid-exec", async () => {
    const res = await spdyUpgrade(api.url, { url: execUrl(["sh", "-c", "echo started; sleep 60"], { stdout: true }), protocols: V4 });
    const s = await openCommandStreams(res.session!, { stdout: true });
    let out = "";
    s.stdout!.on("data", (c: Buffer) => {
      out += c;
    });
    await until(() => out === "started\n");
    runtime.killSwitch.die("the runtime went away");
    const status = JSON.parse(await readAll(s.error!));
    assert.equal(status.status, "Failure");
    assert.equal(status.reason, "InternalError");
    assert.equal(status.message, "Internal error occurred: error executing command in container: the runtime went away");
    res.session!.destroy();
  });

  it("closes the runtime session when the client goes away", async () => {
    const closed = runtime.closedSessions.length;
    const res = await spdyUpgrade(api.url, { url: execUrl(["sleep", "60"], { stdout: true }), protocols: V4 });
    await openCommandStreams(res.session!, { stdout: true });
    await until(() => runtime.execCalls.at(-1)?.cmd[0] === "sleep");
    res.session!.destroy();
    await until(() => runtime.closedSessions.length > closed);
  });

  it("attaches to the container's main process", async () => {
    runtime.startMain("c0ffee", ["sh", "-c", "read x; echo attached:$x"]);
    const q = new URLSearchParams({ container: "app", stdin: "true", stdout: "true", stderr: "true" });
    const res = await spdyUpgrade(api.url, { url: `${ATTACH}?${q}`, protocols: V4 });
    assert.equal(res.status, 101);
    const s = await openCommandStreams(res.session!, { stdin: true, stdout: true, stderr: true });
    s.stdin!.write("hello\n");
    assert.equal(await readAll(s.stdout!), "attached:hello\n");
    assert.equal(await readAll(s.error!), '{"metadata":{},"status":"Success"}');
    res.session!.destroy();
  });
});
