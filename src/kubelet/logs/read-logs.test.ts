import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { type ContainerState, type ContainerStatus, fail, ok, type RuntimeResult } from "../../runtime/types.js";
import { formatCriLine, parseCriLine, parseLogTimestamp } from "./log-format.js";
import { type LogSink, readLogs, type ReadLogsOptions, readLogsOptions } from "./read-logs.js";

const dir = mkdtempSync(join(tmpdir(), "skiff-read-logs-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function file(content: string): string {
  const p = join(dir, `${n++}.log`);
  writeFileSync(p, content);
  return p;
}

/** A runtime whose one container is in `state` (or gone). */
function runtime(state: { value: ContainerState | "gone" }) {
  return {
    async containerStatus(): Promise<RuntimeResult<ContainerStatus>> {
      if (state.value === "gone") return fail("NotFound", "gone");
      return ok({ state: state.value } as ContainerStatus);
    },
  };
}

/** A sink collecting output, with a way to wait until it holds some text. */
function collector() {
  let text = "";
  const waiters: { want: string; resolve: () => void }[] = [];
  const sink: LogSink = {
    async write(chunk) {
      text += chunk.toString();
      for (const w of [...waiters]) {
        if (text.includes(w.want)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
      return true;
    },
  };
  return {
    sink,
    get text() {
      return text;
    },
    until(want: string): Promise<void> {
      if (text.includes(want)) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ want, resolve }));
    },
  };
}

const ALL: ReadLogsOptions = { tail: -1, bytes: -1, follow: false, timestamps: false };

async function read(content: string, opts: Partial<ReadLogsOptions> = {}): Promise<string> {
  const out = collector();
  const r = await readLogs({ path: file(content), containerId: "c1", opts: { ...ALL, ...opts }, runtime: runtime({ value: "exited" }), sink: out.sink });
  assert.deepEqual(r, { ok: true });
  return out.text;
}

const T1 = "2016-10-06T00:17:09.669794202Z";
const T2 = "2016-10-06T00:17:10.669794203Z";
const T3 = "2016-10-06T00:17:11.000000001Z";
const LOG = [`${T1} stdout F line one`, `${T2} stderr F line two`, `${T3} stdout F line three`, ""].join("\n");

describe("log line formats", () => {
  test("CRI timestamps keep nanoseconds and their offset; a zero offset prints as Z", () => {
    assert.equal(parseLogTimestamp("2016-10-06T00:17:09.5Z")?.text, "2016-10-06T00:17:09.500000000Z");
    assert.equal(parseLogTimestamp("2016-10-06T02:17:09.000000001+02:00")?.text, "2016-10-06T02:17:09.000000001+02:00");
    assert.equal(parseLogTimestamp("2016-10-06T00:17:09+00:00")?.text, "2016-10-06T00:17:09.000000000Z");
    assert.equal(parseLogTimestamp("2016-10-06T02:17:09+02:00")?.epochNs, parseLogTimestamp("2016-10-06T00:17:09Z")?.epochNs);
    assert.equal(parseLogTimestamp("2016-13-06T00:17:09Z"), undefined);
    assert.equal(parseLogTimestamp("2016-04-31T00:17:09Z"), undefined);
    assert.equal(parseLogTimestamp("yesterday"), undefined);
  });

  test("a partial line loses the file's newline; a full one keeps it", () => {
    const p = parseCriLine(Buffer.from(`${T1} stdout P part\n`));
    assert.ok(typeof p !== "string");
    assert.equal(p.log.toString(), "part");
    const f = parseCriLine(Buffer.from(`${T1} stderr F:x whole\n`));
    assert.ok(typeof f !== "string");
    assert.equal(f.stream, "stderr");
    assert.equal(f.log.toString(), "whole\n");
    assert.equal(parseCriLine(Buffer.from(`${T1} stdin F x\n`)), 'unexpected stream type "stdin"');
    assert.equal(parseCriLine(Buffer.from(`${T1} stdout F\n`)), "log tag is not found");
    assert.equal(parseCriLine(Buffer.from(`${T1} stdout\n`)), "stream type is not found");
  });

  test("formatCriLine writes what the parser reads", () => {
    assert.equal(formatCriLine(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)), "stdout", "hi"), "2024-01-02T03:04:05.006000000Z stdout F hi\n");
  });
});

describe("readLogs", () => {
  const cases: { name: string; content: string; opts?: Partial<ReadLogsOptions>; want: string }[] = [
    { name: "everything, both streams", content: LOG, want: "line one\nline two\nline three\n" },
    { name: "timestamps prefix each line in RFC3339Nano", content: LOG, opts: { timestamps: true }, want: `${T1} line one\n${T2} line two\n${T3} line three\n` },
    { name: "tail keeps the last lines", content: LOG, opts: { tail: 2 }, want: "line two\nline three\n" },
    { name: "tail 0 writes nothing", content: LOG, opts: { tail: 0 }, want: "" },
    { name: "tail beyond the file writes it all", content: LOG, opts: { tail: 10 }, want: "line one\nline two\nline three\n" },
    { name: "since skips older lines", content: LOG, opts: { sinceNs: parseLogTimestamp(T2)!.epochNs }, want: "line two\nline three\n" },
    { name: "limitBytes cuts the output", content: LOG, opts: { bytes: 12 }, want: "line one\nlin" },
    { name: "limitBytes counts the timestamp", content: LOG, opts: { bytes: 35, timestamps: true }, want: `${T1} line` },
    { name: "a stream filter keeps one stream", content: LOG, opts: { stream: "stderr" }, want: "line two\n" },
    {
      name: "partial lines join, with one timestamp for the logical line",
      content: `${T1} stdout P hel\n${T2} stdout P lo \n${T3} stdout F world\n${T3} stdout F next\n`,
      opts: { timestamps: true },
      want: `${T1} hello world\n${T3} next\n`,
    },
    { name: "tail counts a partial piece as a line, as upstream", content: `${T1} stdout P hel\n${T2} stdout F lo\n`, opts: { tail: 1 }, want: "lo\n" },
    { name: "a last line without newline is written as it is", content: `${T1} stdout F done\n${T2} stdout F no newline`, want: "done\nno newline" },
    { name: "lines that do not parse are skipped", content: `${T1} stdout F a\ngarbage\n${T2} stdout F b\n`, want: "a\nb\n" },
    { name: "an empty file writes nothing", content: "", want: "" },
    {
      name: "docker json-file lines",
      content: `{"log":"one\\n","stream":"stdout","time":"${T1}"}\n{"log":"two\\n","stream":"stderr","time":"${T2}"}\n`,
      opts: { timestamps: true },
      want: `${T1} one\n${T2} two\n`,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      assert.equal(await read(c.content, c.opts), c.want);
    });
  }

  test("an unknown format is an error", async () => {
    const r = await readLogs({ path: file("plain text\n"), containerId: "c", opts: ALL, runtime: runtime({ value: "exited" }), sink: collector().sink });
    assert.deepEqual(r, { ok: false, error: 'failed to get parse function: unsupported log format: "plain text\\n"' });
  });

  test("a missing file is an error worded as upstream's", async () => {
    const missing = join(dir, "nope.log");
    const r = await readLogs({ path: missing, containerId: "c", opts: ALL, runtime: runtime({ value: "exited" }), sink: collector().sink });
    assert.deepEqual(r, { ok: false, error: `failed to try resolving symlinks in path "${missing}": lstat ${missing}: no such file or directory` });
  });

  test("options from PodLogOptions: the later since wins", () => {
    const now = Date.UTC(2024, 0, 1, 0, 0, 10);
    const o = readLogsOptions({ follow: true, previous: false, timestamps: true, insecureSkipTLSVerifyBackend: false, sinceSeconds: 5, sinceTime: Date.UTC(2024, 0, 1, 0, 0, 8), tailLines: 3, limitBytes: 9, stream: "Stdout" }, now);
    assert.deepEqual(o, { tail: 3, bytes: 9, sinceNs: BigInt(Date.UTC(2024, 0, 1, 0, 0, 8)) * 1_000_000n, follow: true, timestamps: true, stream: "stdout" });
    assert.equal(readLogsOptions({ follow: false, previous: false, timestamps: false, insecureSkipTLSVerifyBackend: false, sinceSeconds: 5 }, now).sinceNs, BigInt(now - 5000) * 1_000_000n);
  });
});

describe("readLogs follow", () => {
  test("follows appends until the container exits and the file is drained", async () => {
    const path = file(`${T1} stdout F first\n`);
    const state = { value: "running" as ContainerState | "gone" };
    const out = collector();
    const done = readLogs({ path, containerId: "c", opts: { ...ALL, follow: true }, runtime: runtime(state), sink: out.sink, pollIntervalMs: 20 });
    await out.until("first\n");
    appendFileSync(path, `${T2} stdout P sec`);
    appendFileSync(path, `ond-half\n${T2} stdout F ond\n`);
    await out.until("second-half");
    // Written just before the exit: still delivered.
    appendFileSync(path, `${T3} stderr F last\n`);
    state.value = "exited";
    assert.deepEqual(await done, { ok: true });
    assert.equal(out.text, "first\nsecond-halfond\nlast\n");
  });

  test("follow with tail starts at the last lines", async () => {
    const path = file(LOG);
    const state = { value: "running" as ContainerState | "gone" };
    const out = collector();
    const done = readLogs({ path, containerId: "c", opts: { ...ALL, follow: true, tail: 1 }, runtime: runtime(state), sink: out.sink, pollIntervalMs: 20 });
    await out.until("line three\n");
    appendFileSync(path, `${T3} stdout F more\n`);
    await out.until("more\n");
    state.value = "gone";
    assert.deepEqual(await done, { ok: true });
    assert.equal(out.text, "line three\nmore\n");
  });

  test("follows across a rotation: the old file is drained, then the new one read from its start", async () => {
    const path = file(`${T1} stdout F before\n`);
    const state = { value: "running" as ContainerState | "gone" };
    const out = collector();
    const done = readLogs({ path, containerId: "c", opts: { ...ALL, follow: true }, runtime: runtime(state), sink: out.sink, pollIntervalMs: 20 });
    await out.until("before\n");
    // The container wrote more just before the kubelet renamed the file, then the runtime reopened a new one.
    appendFileSync(path, `${T2} stdout F tail of old\n`);
    renameSync(path, `${path}.20240101-000000`);
    writeFileSync(path, `${T3} stdout F new file\n`);
    await out.until("new file\n");
    appendFileSync(path, `${T3} stdout F after\n`);
    await out.until("after\n");
    state.value = "exited";
    assert.deepEqual(await done, { ok: true });
    assert.equal(out.text, "before\ntail of old\nnew file\nafter\n");
  });

  test("an abort ends a follow", async () => {
    const path = file(LOG);
    const ac = new AbortController();
    const out = collector();
    const done = readLogs({ path, containerId: "c", opts: { ...ALL, follow: true }, runtime: runtime({ value: "running" }), sink: out.sink, signal: ac.signal, pollIntervalMs: 20 });
    await out.until("line three\n");
    ac.abort();
    assert.deepEqual(await done, { ok: true });
  });

  test("a container that is not running is read to the end and not waited for", async () => {
    const out = collector();
    const r = await readLogs({ path: file(LOG), containerId: "c", opts: { ...ALL, follow: true }, runtime: runtime({ value: "exited" }), sink: out.sink, pollIntervalMs: 20 });
    assert.deepEqual(r, { ok: true });
    assert.equal(out.text, "line one\nline two\nline three\n");
  });
});
