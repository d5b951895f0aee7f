/**
 * exec, attach, cp and port-forward into real containers, through the real
 * API server and the node's kubelet API, for every kubectl from 1.27 to
 * 1.33 (SPDY/3.1 on the older ones, WebSocket on the newer, WebSocket-
 * tunnelled SPDY for port-forward on 1.31+) and for client-node.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { Attach, Exec, KubeConfig, PortForward, type V1Status } from "@kubernetes/client-node";
import { spawn as spawnPty } from "node-pty";
import { kubectlDir, kubectlVersions, ok } from "./support/cluster.js";
import { BUSYBOX_IMAGE, type NodeServer, startNodeServer } from "./support/node-cluster.js";

let srv: NodeServer;
let dir: string;
const started: number[] = [];

before(async () => {
  srv = await startNodeServer();
  dir = mkdtempSync(join(tmpdir(), "skiff-streams-"));
  const pods = [
    { name: "shell", spec: { containers: [{ name: "sh", image: BUSYBOX_IMAGE, imagePullPolicy: "Never", command: ["sleep", "3600"] }] } },
    {
      name: "web",
      spec: { containers: [{ name: "web", image: BUSYBOX_IMAGE, imagePullPolicy: "Never", command: ["sh", "-c", "mkdir -p /www && echo served > /www/index.html && exec httpd -f -p 8080 -h /www"] }] },
    },
  ];
  for (const p of pods) {
    ok(srv.kubectl(["apply", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: p.name }, spec: { terminationGracePeriodSeconds: 1, ...p.spec } }) }), "apply");
  }
  await srv.eventually("pods running", () => {
    const out = srv.kubectl(["get", "pods", "-o", "jsonpath={range .items[*]}{.status.phase} {end}"]).stdout.trim().split(" ");
    return out.length === 2 && out.every((p) => p === "Running") ? true : undefined;
  });
});

after(async () => {
  for (const pid of started) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await srv?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
      let body = "";
      res.on("data", (d) => {
        body += d;
      });
      res.on("end", () => resolve(body));
    }).on("error", reject);
  });
}

describe("streams into real containers", () => {
  for (const version of kubectlVersions()) {
    describe(`kubectl ${version}`, () => {
      it("exec propagates the exit code and closes stdin at EOF", () => {
        const r = srv.kubectl(["exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3"], { version });
        assert.equal(r.status, 3, r.stderr);
        assert.equal(r.stdout, "out\n");
        assert.match(r.stderr, /err\n/);
        assert.match(r.stderr, /command terminated with exit code 3/);
        const cat = srv.kubectl(["exec", "-i", "shell", "--", "sh", "-c", "cat; echo done"], { version, input: "line one\nline two\n" });
        assert.equal(cat.status, 0, cat.stderr);
        assert.equal(cat.stdout, "line one\nline two\ndone\n");
      });

      it("exec -t gives a terminal", async () => {
        const pty = spawnPty(join(kubectlDir(), `kubectl.${version}`), ["--kubeconfig", srv.kubeconfig, "exec", "-it", "shell", "--", "sh", "-c", "tty; stty size; read x; echo got:$x"], {
          cols: 100,
          rows: 30,
          env: { ...process.env, KUBECONFIG: srv.kubeconfig } as Record<string, string>,
        });
        started.push(pty.pid);
        let out = "";
        pty.onData((d) => {
          out += d;
        });
        const exited = new Promise<number>((resolve) => pty.onExit(({ exitCode }) => resolve(exitCode)));
        await srv.eventually("the terminal size", () => (/\d+ \d+/.test(out) ? true : undefined), 30_000);
        pty.write("hi\r");
        assert.equal(await exited, 0, out);
        assert.match(out, /\/dev\/pts\/\d+/);
        assert.match(out, /30 100/);
        assert.match(out, /got:hi/);
      });

      it("cp copies both ways", () => {
        const src = join(dir, `in-${version}`);
        writeFileSync(src, `payload ${version}\n`);
        ok(srv.kubectl(["cp", src, `shell:/tmp/copied-${version}`], { version }), "cp to pod");
        const back = join(dir, `out-${version}`);
        ok(srv.kubectl(["cp", `shell:/tmp/copied-${version}`, back], { version }), "cp from pod");
        assert.equal(readFileSync(back, "utf8"), `payload ${version}\n`);
      });

      it("port-forward serves two connections at once", async () => {
        const child = spawn(join(kubectlDir(), `kubectl.${version}`), ["--kubeconfig", srv.kubeconfig, "port-forward", "pod/web", ":8080"], {
          env: { ...process.env, KUBECONFIG: srv.kubeconfig },
        });
        if (child.pid) started.push(child.pid);
        let stdout = "";
        child.stdout.on("data", (d) => {
          stdout += d;
        });
        child.stderr.resume();
        try {
          const port = await srv.eventually("port-forward to listen", () => {
            const m = /Forwarding from 127\.0\.0\.1:(\d+) -> 8080/.exec(stdout);
            return m ? Number(m[1]) : undefined;
          }, 30_000);
          assert.deepEqual(await Promise.all([httpGet(port), httpGet(port)]), ["served\n", "served\n"]);
        } finally {
          child.kill("SIGTERM");
          await once(child, "close");
        }
      });
    });
  }

  it("attach -i reaches the main process", async () => {
    ok(
      srv.kubectl(["apply", "-f", "-"], {
        input: JSON.stringify({
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "reader" },
          spec: { terminationGracePeriodSeconds: 1, restartPolicy: "Never", containers: [{ name: "r", image: BUSYBOX_IMAGE, imagePullPolicy: "Never", stdin: true, stdinOnce: true, command: ["sh", "-c", "read x; echo attached:$x"] }] },
        }),
      }),
      "apply reader",
    );
    await srv.eventually("reader running", () => (srv.kubectl(["get", "pod", "reader", "-o", "jsonpath={.status.phase}"]).stdout === "Running" ? true : undefined));
    const r = srv.kubectl(["attach", "-i", "reader"], { input: "hello\n" });
    assert.match(r.stdout, /attached:hello/);
  });

  describe("client-node", () => {
    let kc: KubeConfig;
    before(() => {
      kc = new KubeConfig();
      kc.loadFromFile(srv.kubeconfig);
    });

    it("exec with stdin and an exit code", async () => {
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let out = "";
      stdout.on("data", (d) => {
        out += d;
      });
      stderr.resume();
      let status: V1Status | undefined;
      const ws = await new Exec(kc).exec("default", "shell", "sh", ["sh", "-c", "cat; exit 4"], stdout, stderr, Readable.from(["from client-node\n"]), false, (s) => {
        status = s;
      });
      if (ws.readyState !== ws.CLOSED) await once(ws, "close");
      assert.equal(out, "from client-node\n");
      assert.equal(status?.status, "Failure");
      assert.equal(status?.details?.causes?.[0]?.message, "4");
    });

    it("attach and port-forward", async () => {
      ok(
        srv.kubectl(["apply", "-f", "-"], {
          input: JSON.stringify({
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: "echo" },
            spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "e", image: BUSYBOX_IMAGE, imagePullPolicy: "Never", stdin: true, command: ["sh", "-c", "while read x; do echo echo:$x; done"] }] },
          }),
        }),
        "apply echo",
      );
      await srv.eventually("echo running", () => (srv.kubectl(["get", "pod", "echo", "-o", "jsonpath={.status.phase}"]).stdout === "Running" ? true : undefined));
      const stdout = new PassThrough();
      let out = "";
      stdout.on("data", (d) => {
        out += d;
      });
      const stdin = new PassThrough();
      const ws = await new Attach(kc).attach("default", "echo", "e", stdout, null, stdin, false);
      stdin.write("ping\n");
      await srv.eventually("the echo", () => (out.includes("echo:ping") ? true : undefined), 20_000);
      ws.close();

      const output = new PassThrough();
      let body = "";
      output.on("data", (d) => {
        body += d;
      });
      const input = new PassThrough();
      const pf = (await new PortForward(kc).portForward("default", "web", [8080], output, null, input)) as { close(): void };
      input.write("GET / HTTP/1.0\r\n\r\n");
      await srv.eventually("the forwarded answer", () => (body.includes("served") ? true : undefined), 20_000);
      pf.close();
    });
  });
});
