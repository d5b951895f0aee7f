/**
 * Exec and attach over WebSocket, driven by @kubernetes/client-node (v5 and
 * v4 channel protocols) and by a raw WebSocket for the base64 protocol.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { PassThrough, Readable, Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { Attach, Exec, KubeConfig, type V1Status } from "@kubernetes/client-node";
import { WebSocketHandler } from "@kubernetes/client-node/dist/web-socket-handler.js";
import { WebSocket } from "ws";
import { type FakeApi, startFakeApi } from "./testing/fake-api.js";
import { FakeStreamingRuntime } from "./testing/fake-runtime.js";

function kubeConfig(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server, skipTLSVerify: true }],
    users: [{ name: "u" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return kc;
}

/** A Writable that collects text; `columns`/`rows` make client-node treat it as a terminal. */
class Collector extends Writable {
  text = "";
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}
class Terminal extends Collector {
  columns = 100;
  rows = 30;
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

interface ExecResult {
  stdout: string;
  stderr: string;
  status: V1Status | undefined;
  protocol: string;
}

async function clientNodeExec(
  exec: Exec,
  cmd: string[],
  opts: { stdin?: Readable; tty?: boolean; stdout?: Collector } = {},
): Promise<ExecResult> {
  const stdout = opts.stdout ?? new Collector();
  const stderr = new Collector();
  let status: V1Status | undefined;
  const ws = await exec.exec("default", "web", "app", cmd, stdout, opts.tty ? null : stderr, opts.stdin ?? null, opts.tty ?? false, (s) => {
    status = s;
  });
  const protocol = ws.protocol;
  if (ws.readyState !== WebSocket.CLOSED) await once(ws, "close");
  return { stdout: stdout.text, stderr: stderr.text, status, protocol };
}

describe("exec and attach over WebSocket", () => {
  let runtime: FakeStreamingRuntime;
  let api: FakeApi;
  let kc: KubeConfig;

  before(async () => {
    runtime = new FakeStreamingRuntime();
    api = await startFakeApi(runtime);
    kc = kubeConfig(api.url);
  });
  after(async () => {
    runtime.cleanup();
    await api.close();
  });

  it("v5 (client-node's first choice): output, then the NonZeroExitCode Status", async () => {
    const r = await clientNodeExec(new Exec(kc), ["sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert.equal(r.protocol, "v5.channel.k8s.io");
    assert.equal(r.stdout, "out\n");
    assert.equal(r.stderr, "err\n");
    assert.deepEqual(r.status, {
      metadata: {},
      status: "Failure",
      message: "command terminated with non-zero exit code: error executing command [sh -c echo out; echo err >&2; exit 3], exit code 3",
      reason: "NonZeroExitCode",
      details: { causes: [{ reason: "ExitCode", message: "3" }] },
    });
  });

  it("v5: the client's close signal for stdin closes the process's stdin", async () => {
    const r = await clientNodeExec(new Exec(kc), ["cat"], { stdin: Readable.from(["abc", "def"]) });
    assert.equal(r.stdout, "abcdef");
    assert.deepEqual(r.status, { metadata: {}, status: "Success" });
  });

  it("v5: terminal size and resizes reach the session", async () => {
    const before = runtime.resizes.length;
    const term = new Terminal();
    const stdin = new PassThrough();
    const done = clientNodeExec(new Exec(kc), ["sh", "-c", "read x; echo tty:$x"], { stdin, tty: true, stdout: term });
    await until(() => runtime.resizes.length > before);
    term.columns = 132;
    term.rows = 43;
    term.emit("resize");
    await until(() => runtime.resizes.length > before + 1);
    stdin.end("y\n");
    const r = await done;
    // A terminal echoes the input and ends lines with CR LF.
    assert.equal(r.stdout, "y\r\ntty:y\r\n");
    assert.deepEqual(runtime.resizes.slice(before), [
      { width: 100, height: 30 },
      { width: 132, height: 43 },
    ]);
    assert.equal(runtime.execCalls.at(-1)!.opts.tty, true);
  });

  it("v4 when the client offers only v4", async () => {
    const handler = new WebSocketHandler(kc, (uri, _protocols, opts) => new WebSocket(uri, ["v4.channel.k8s.io"], opts));
    const r = await clientNodeExec(new Exec(kc, handler), ["sh", "-c", "echo hi; exit 2"]);
    assert.equal(r.protocol, "v4.channel.k8s.io");
    assert.equal(r.stdout, "hi\n");
    assert.equal(r.status?.reason, "NonZeroExitCode");
    assert.deepEqual(r.status?.details?.causes, [{ reason: "ExitCode", message: "2" }]);
  });

  it("base64.channel.k8s.io: text messages, digit channel, failure message only", async () => {
    const q = new URLSearchParams([
      ["command", "sh"],
      ["command", "-c"],
      ["command", "printf 'a\\0b'; exit 1"],
      ["stdout", "true"],
    ]);
    const ws = new WebSocket(`${api.url.replace("http", "ws")}/api/v1/namespaces/default/pods/web/exec?${q}`, ["base64.channel.k8s.io"]);
    const messages: string[] = [];
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      assert.equal(isBinary, false);
      messages.push(data.toString());
    });
    await once(ws, "close");
    assert.equal(ws.protocol, "base64.channel.k8s.io");
    // First the empty announcement on stdout, then the output, then the error.
    assert.equal(messages[0], "1");
    const out = Buffer.concat(messages.filter((m) => m.startsWith("1")).map((m) => Buffer.from(m.slice(1), "base64")));
    assert.deepEqual([...out], [0x61, 0, 0x62]);
    const error = messages.filter((m) => m.startsWith("3")).map((m) => Buffer.from(m.slice(1), "base64").toString());
    assert.deepEqual(error, ["command terminated with non-zero exit code: error executing command [sh -c printf 'a\\0b'; exit 1], exit code 1"]);
  });

  it("answers 403 when no offered subprotocol is served", async () => {
    const ws = new WebSocket(`${api.url.replace("http", "ws")}/api/v1/namespaces/default/pods/web/exec?command=true&stdout=true`, ["v9.channel.k8s.io"]);
    ws.on("error", () => undefined);
    const [, res] = await once(ws, "unexpected-response");
    assert.equal(res.statusCode, 403);
    ws.terminate();
  });

  it("attach via client-node", async () => {
    runtime.startMain("c0ffee", ["sh", "-c", "read x; echo attached:$x"]);
    const stdout = new Collector();
    const ws = await new Attach(kc).attach("default", "web", "app", stdout, null, Readable.from(["hi\n"]), false);
    await once(ws, "close");
    assert.equal(stdout.text, "attached:hi\n");
  });
});
