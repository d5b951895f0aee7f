import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import type { StreamSession } from "../../types.js";
import { exec } from "./exec.js";
import { execSync } from "./exec-sync.js";
import { makeTestHost, type TestContainer, type TestHost } from "./test-fixture.js";

function collect(stream: NodeJS.ReadableStream | undefined): Promise<string> {
  assert.ok(stream, "stream requested");
  return new Promise((resolve, reject) => {
    let text = "";
    stream.on("data", (c: Buffer) => {
      text += c.toString("utf8");
    });
    stream.once("end", () => resolve(text));
    stream.once("error", reject);
  });
}

/** Reads `stream` until `pattern` matches what arrived after `from` characters; resolves with all text so far. */
function waitFor(stream: NodeJS.ReadableStream, buffer: { text: string }, pattern: RegExp, from = 0): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = pattern.exec(buffer.text.slice(from));
      if (m) {
        stream.removeListener("data", check);
        stream.removeListener("end", onEnd);
        resolve(m);
      }
    };
    const onEnd = () => reject(new Error(`stream ended before ${pattern}: ${JSON.stringify(buffer.text)}`));
    stream.on("data", check);
    stream.once("end", onEnd);
    check();
  });
}

function record(stream: NodeJS.ReadableStream | undefined): { text: string } {
  assert.ok(stream);
  const buffer = { text: "" };
  stream.on("data", (c: Buffer) => {
    buffer.text += c.toString("utf8");
  });
  return buffer;
}

/** Host pids of `runc exec` processes for this container. */
async function runcExecPids(containerId: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const argv = (await readFile(`/proc/${name}/cmdline`, "utf8").catch(() => "")).split("\0");
    if (argv[0]?.endsWith("runc") && argv.includes("exec") && argv.includes(containerId)) pids.push(Number(name));
  }
  return pids;
}

async function sessionOf(r: Awaited<ReturnType<typeof exec>>): Promise<StreamSession> {
  assert.ok(r.ok, JSON.stringify(r));
  return r.value;
}

/** A hung stream fails its test (and cleanup still runs) instead of hanging the suite. */
const LIMIT = { timeout: 60_000 };

describe("runc exec", () => {
  let host: TestHost;
  let ctr: TestContainer;
  before(async () => {
    host = await makeTestHost();
    ctr = await host.makeContainer({ args: ["sleep", "3600"] });
  });
  after(async () => {
    await host?.cleanup();
  });

  it("without a tty: stdin EOF ends cat, output and exit code come back", LIMIT, async () => {
    const s = await sessionOf(await exec(ctr.target, ["cat"], { stdin: true, stdout: true, stderr: true, tty: false }));
    assert.equal(s.stderr !== undefined, true);
    const out = collect(s.stdout);
    const err = collect(s.stderr);
    s.stdin?.write("hello\n");
    s.stdin?.end("world\n");
    assert.equal(await out, "hello\nworld\n");
    assert.equal(await err, "");
    assert.deepEqual(await s.exit, { ok: true, value: 0 });
  });

  it("keeps stdout and stderr apart and propagates exit code 3", LIMIT, async () => {
    const s = await sessionOf(
      await exec(ctr.target, ["sh", "-c", "echo to-out; echo to-err >&2; exit 3"], { stdin: false, stdout: true, stderr: true, tty: false }),
    );
    assert.equal(s.stdin, undefined);
    const [out, err] = await Promise.all([collect(s.stdout), collect(s.stderr)]);
    assert.equal(out, "to-out\n");
    assert.equal(err, "to-err\n");
    assert.deepEqual(await s.exit, { ok: true, value: 3 });
  });

  it("drops output nobody asked for", LIMIT, async () => {
    const s = await sessionOf(await exec(ctr.target, ["sh", "-c", "yes | head -c 300000 >&2; echo done"], { stdin: false, stdout: true, stderr: false, tty: false }));
    assert.equal(s.stderr, undefined);
    assert.equal(await collect(s.stdout), "done\n");
    assert.deepEqual(await s.exit, { ok: true, value: 0 });
  });

  it("with a tty: the process sees a terminal", LIMIT, async () => {
    const s = await sessionOf(await exec(ctr.target, ["tty"], { stdin: false, stdout: true, stderr: false, tty: true }));
    assert.equal(s.stderr, undefined);
    assert.match(await collect(s.stdout), /^\/dev\/pts\/\d+\r\n$/);
    assert.deepEqual(await s.exit, { ok: true, value: 0 });
  });

  it("with a tty: resize changes what stty reports, and the exit code comes back", LIMIT, async () => {
    const s = await sessionOf(await exec(ctr.target, ["sh"], { stdin: true, stdout: true, stderr: false, tty: true }));
    assert.ok(s.stdout && s.stdin);
    const buffer = record(s.stdout);
    const out = collect(s.stdout);
    s.resize(100, 40);
    // The resize travels as SIGWINCH to runc, which resizes the container's
    // console; ask until the shell sees it (bounded, no clock involved).
    let seen = "";
    for (let attempt = 0; attempt < 50 && seen !== "40 100"; attempt++) {
      const from = buffer.text.length;
      s.stdin.write(`echo "size=$(stty size)"\n`);
      seen = (await waitFor(s.stdout, buffer, /size=(\d+ \d+)\r\n/, from))[1] ?? "";
    }
    assert.equal(seen, "40 100");
    s.stdin.write("exit 7\n");
    await out;
    assert.deepEqual(await s.exit, { ok: true, value: 7 });
  });

  it("close() kills the process and what it started", LIMIT, async () => {
    const s = await sessionOf(await exec(ctr.target, ["sh", "-c", "sleep 301 & sleep 302"], { stdin: false, stdout: true, stderr: true, tty: false }));
    s.stdout?.resume();
    s.stderr?.resume();
    s.close();
    assert.deepEqual(await s.exit, { ok: true, value: 137 });
    const ps = await execSync(ctr.target, ["ps", "-o", "stat,args"], 10);
    assert.ok(ps.ok);
    const live = ps.value.stdout
      .toString()
      .split("\n")
      .filter((l) => /sleep 30[12]/.test(l) && !/^\s*Z/.test(l));
    assert.deepEqual(live, []);
  });

  it("close() of a tty session kills the process", LIMIT, async () => {
    const s = await sessionOf(await exec(ctr.target, ["sleep", "303"], { stdin: true, stdout: true, stderr: false, tty: true }));
    s.stdout?.resume();
    s.close();
    assert.deepEqual(await s.exit, { ok: true, value: 137 });
  });

  it("when runc is killed mid-exec, exit is a clean failure and the process is gone", LIMIT, async () => {
    const s = await sessionOf(await exec(ctr.target, ["sleep", "304"], { stdin: false, stdout: true, stderr: true, tty: false }));
    s.stdout?.resume();
    s.stderr?.resume();
    const pids = await runcExecPids(ctr.target.containerId);
    assert.equal(pids.length, 1);
    process.kill(pids[0] ?? 0, "SIGKILL");
    const r = await s.exit;
    assert.deepEqual(r, {
      ok: false,
      error: { code: "Unavailable", message: `runc ended with signal SIGKILL during the exec in container ${ctr.target.containerId}` },
    });
  });

  it("when the container stops mid-exec, exit is a clean failure", LIMIT, async () => {
    const other = await host.makeContainer({ args: ["sleep", "3600"] });
    const s = await sessionOf(await exec(other.target, ["sleep", "305"], { stdin: false, stdout: true, stderr: true, tty: false }));
    s.stdout?.resume();
    s.stderr?.resume();
    await other.kill();
    assert.deepEqual(await s.exit, {
      ok: false,
      error: { code: "NotFound", message: `container ${other.target.containerId} stopped while the exec was running` },
    });
  });

  it("a command that does not exist fails to start, with runc's reason", LIMIT, async () => {
    for (const tty of [false, true]) {
      const r = await exec(ctr.target, ["no-such-command"], { stdin: false, stdout: true, stderr: !tty, tty });
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.error.code, "Unknown");
      assert.match(!r.ok ? r.error.message : "", /"no-such-command": executable file not found in \$PATH/);
    }
  });

  it("an unknown container is NotFound", LIMIT, async () => {
    const r = await exec({ ...ctr.target, containerId: "nope" }, ["true"], { stdin: false, stdout: true, stderr: true, tty: false });
    assert.deepEqual(r, { ok: false, error: { code: "NotFound", message: 'could not find container "nope"' } });
  });

  it("rejects what upstream's streaming server rejects", LIMIT, async () => {
    const both = await exec(ctr.target, ["true"], { stdin: false, stdout: true, stderr: true, tty: true });
    assert.deepEqual(both, { ok: false, error: { code: "InvalidArgument", message: "tty and stderr cannot both be true" } });
    const none = await exec(ctr.target, ["true"], { stdin: false, stdout: false, stderr: false, tty: false });
    assert.deepEqual(none, { ok: false, error: { code: "InvalidArgument", message: "one of stdin, stdout, or stderr must be set" } });
  });
});
