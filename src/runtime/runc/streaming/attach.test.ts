import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { StreamSession } from "../../types.js";
import { attach } from "./attach.js";
import { FrameDecoder } from "./attach-relay.js";
import { runcStatus } from "./runc-exec.js";
import { makeTestHost, type TestContainer, type TestHost } from "./test-fixture.js";

function record(stream: NodeJS.ReadableStream | undefined): { text: string; ended: Promise<string> } {
  assert.ok(stream, "stream requested");
  const buffer = {
    text: "",
    ended: new Promise<string>((resolve) => stream.once("end", () => resolve(buffer.text))),
  };
  stream.on("data", (c: Buffer) => {
    buffer.text += c.toString("utf8");
  });
  return buffer;
}

function waitFor(stream: NodeJS.ReadableStream, buffer: { text: string }, pattern: RegExp, from = 0): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = pattern.exec(buffer.text.slice(from));
      if (!m) return;
      stream.removeListener("data", check);
      stream.removeListener("end", onEnd);
      resolve(m);
    };
    const onEnd = () => reject(new Error(`stream ended before ${pattern}: ${JSON.stringify(buffer.text)}`));
    stream.on("data", check);
    stream.once("end", onEnd);
    check();
  });
}

/** The runtime's side: the exit code conmon recorded, if any yet. */
const exitCodeOf = (ctr: TestContainer) => () => ctr.exitCode();

function sessionOf(r: Awaited<ReturnType<typeof attach>>): StreamSession {
  assert.ok(r.ok, JSON.stringify(r));
  return r.value;
}

/** A hung stream fails its test (and cleanup still runs) instead of hanging the suite. */
const LIMIT = { timeout: 60_000 };

describe("FrameDecoder", () => {
  it("splits frames across and within chunks", () => {
    const d = new FrameDecoder();
    const frame = (s: string) => {
      const b = Buffer.from(s);
      const h = Buffer.alloc(4);
      h.writeUInt32BE(b.length);
      return Buffer.concat([h, b]);
    };
    const all = Buffer.concat([frame(""), frame("\x02hello"), frame("\x03err")]);
    assert.deepEqual(
      d.push(all.subarray(0, 7)).map((b) => b.toString()),
      [""],
    );
    assert.equal(d.buffered, 3);
    assert.deepEqual(
      d.push(all.subarray(7)).map((b) => b.toString()),
      ["\x02hello", "\x03err"],
    );
    assert.equal(d.buffered, 0);
  });
});

describe("runc attach (conmon's attach socket)", () => {
  let host: TestHost;
  before(async () => {
    host = await makeTestHost();
  });
  after(async () => {
    await host?.cleanup();
  });

  it("talks to a sh reading stdin; stdin EOF with stdinOnce ends it; the exit code comes back", LIMIT, async () => {
    const ctr = await host.makeContainer({ args: ["sh"], stdin: true, stdinOnce: true });
    const s = sessionOf(await attach(ctr.target, { stdin: true, stdout: true, stderr: true, tty: false }, { containerExitCode: exitCodeOf(ctr) }));
    assert.ok(s.stdin && s.stdout && s.stderr);
    const out = record(s.stdout);
    const err = record(s.stderr);
    s.stdin.write("echo hello\n");
    await waitFor(s.stdout, out, /hello\n/);
    s.stdin.write("echo oops >&2\n");
    await waitFor(s.stderr, err, /oops\n/);
    // Output keeps its stream and its bytes, whatever the message sizes.
    s.stdin.write("yes abcdefg | head -c 200000; echo; echo tail >&2\n");
    await waitFor(s.stderr, err, /tail\n/);
    s.stdin.end("exit 6\n");
    assert.deepEqual(await s.exit, { ok: true, value: 6 });
    const stdout = await out.ended;
    assert.equal(stdout.length, "hello\n".length + 200000 + 1);
    assert.equal(await err.ended, "oops\ntail\n");
  });

  it("stdin EOF alone closes the container's stdin when stdinOnce", LIMIT, async () => {
    const ctr = await host.makeContainer({ args: ["sh", "-c", "cat; echo cat-done; exit 9"], stdin: true, stdinOnce: true });
    const s = sessionOf(await attach(ctr.target, { stdin: true, stdout: true, stderr: false, tty: false }, { containerExitCode: exitCodeOf(ctr) }));
    const out = record(s.stdout);
    s.stdin?.end("bytes\n");
    assert.deepEqual(await s.exit, { ok: true, value: 9 });
    assert.equal(await out.ended, "bytes\ncat-done\n");
  });

  it("detaching leaves the container running and, without stdinOnce, its stdin open", LIMIT, async () => {
    const ctr = await host.makeContainer({ args: ["sh"], stdin: true, stdinOnce: false });
    const first = sessionOf(await attach(ctr.target, { stdin: true, stdout: true, stderr: false, tty: false }, { containerExitCode: exitCodeOf(ctr) }));
    const out1 = record(first.stdout);
    first.stdin?.write("echo one\n");
    await waitFor(first.stdout as NodeJS.ReadableStream, out1, /one\n/);
    first.close();
    assert.deepEqual(await first.exit, { ok: false, error: { code: "Unavailable", message: `the client detached from container ${ctr.target.containerId}` } });
    assert.equal(await runcStatus(ctr.target), "running");

    const second = sessionOf(await attach(ctr.target, { stdin: true, stdout: true, stderr: false, tty: false }, { containerExitCode: exitCodeOf(ctr) }));
    const out2 = record(second.stdout);
    second.stdin?.write("echo two\n");
    await waitFor(second.stdout as NodeJS.ReadableStream, out2, /two\n/);
    second.stdin?.write("exit 0\n");
    assert.deepEqual(await second.exit, { ok: true, value: 0 });
  });

  it("with a tty: output comes through the terminal and resize reaches it", LIMIT, async () => {
    const ctr = await host.makeContainer({ args: ["sh"], stdin: true, tty: true });
    const s = sessionOf(await attach(ctr.target, { stdin: true, stdout: true, stderr: false, tty: true }, { containerExitCode: exitCodeOf(ctr) }));
    assert.equal(s.stderr, undefined);
    assert.ok(s.stdin && s.stdout);
    const out = record(s.stdout);
    s.resize(100, 40);
    // The resize goes through conmon's ctl FIFO, asynchronously: ask until it shows (bounded).
    let seen = "";
    for (let attempt = 0; attempt < 50 && seen !== "40 100"; attempt++) {
      const from = out.text.length;
      s.stdin.write(`echo "size=$(stty size)"\n`);
      seen = (await waitFor(s.stdout, out, /size=(\d+ \d+)\r\n/, from))[1] ?? "";
    }
    assert.equal(seen, "40 100");
    s.stdin.write("tty\n");
    await waitFor(s.stdout, out, /\/dev\/pts\/\d+\r\n/);
    s.stdin.write("exit 4\n");
    assert.deepEqual(await s.exit, { ok: true, value: 4 });
  });

  it("a container whose conmon is gone cannot be attached to", LIMIT, async () => {
    const ctr = await host.makeContainer({ args: ["sleep", "3600"] });
    await ctr.kill();
    const r = await attach(ctr.target, { stdin: false, stdout: true, stderr: true, tty: false }, { containerExitCode: exitCodeOf(ctr) });
    assert.deepEqual(r, {
      ok: false,
      error: { code: "FailedPrecondition", message: `container ${ctr.target.containerId} is not running (no conmon listens on ${ctr.target.attachPath})` },
    });
    const gone = await attach(
      { ...ctr.target, attachPath: `${ctr.target.bundleDir}/no-such-dir/attach` },
      { stdin: false, stdout: true, stderr: true, tty: false },
      { containerExitCode: exitCodeOf(ctr) },
    );
    assert.equal(!gone.ok && gone.error.code, "FailedPrecondition");
  });

  it("rejects a tty that does not match the container, and stdin it does not have", LIMIT, async () => {
    const ctr = await host.makeContainer({ args: ["sleep", "3600"] });
    const tty = await attach(ctr.target, { stdin: false, stdout: true, stderr: false, tty: true }, { containerExitCode: exitCodeOf(ctr) });
    assert.equal(!tty.ok && tty.error.code, "InvalidArgument");
    assert.match(!tty.ok ? tty.error.message : "", /created with tty=false/);
    const stdin = await attach(ctr.target, { stdin: true, stdout: true, stderr: true, tty: false }, { containerExitCode: exitCodeOf(ctr) });
    assert.equal(!stdin.ok && stdin.error.code, "FailedPrecondition");
  });
});
