import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { conmonArgs } from "./conmon.js";
import { cleanToolMessage, describeFailure, runCommand } from "./run-command.js";
import { parseRuncVersion } from "./runc-cli.js";

describe("tool output", () => {
  it("keeps only the message of runc's logrus lines", () => {
    const line = 'time="2026-11-28T21:47:51Z" level=error msg="runc create failed: exec: \\"sh\\": executable file not found in $PATH"\n';
    assert.equal(cleanToolMessage(line), 'runc create failed: exec: "sh": executable file not found in $PATH');
    assert.equal(cleanToolMessage("mount: /x: bad option\n"), "mount: /x: bad option");
  });
  it("reports a command's failure and a missing tool as values", async () => {
    const r = await runCommand("/bin/sh", ["-c", "echo oops >&2; exit 4"]);
    assert.equal(r.code, 4);
    assert.equal(describeFailure("doing it", r), "doing it: oops");
    const missing = await runCommand("/nonexistent/tool", []);
    assert.equal(missing.code, -1);
    assert.match(missing.spawnError ?? "", /ENOENT/);
  });
  it("parses runc --version", () => {
    assert.equal(parseRuncVersion("runc version 1.1.5+ds1\ncommit: x\nspec: 1.0.2-dev\n"), "1.1.5+ds1");
    assert.equal(parseRuncVersion("garbage"), undefined);
  });
});

describe("conmonArgs", () => {
  const base = {
    conmonPath: "/usr/bin/conmon",
    runcPath: "/usr/sbin/runc",
    runcRoot: "/r/runc",
    id: "c1",
    name: "k8s_app_p_ns_u_0",
    bundle: "/r/containers/c1",
    pidFile: "/r/containers/c1/pidfile",
    conmonPidFile: "/r/containers/c1/conmon.pid",
    logPath: "/logs/app/0.log",
    exitDir: "/r/exits",
    persistDir: "/r/containers/c1",
    socketDirPath: "/r/sockets",
    tty: false,
    stdin: false,
    stdinOnce: false,
  };
  it("passes the identity, paths, runc root and log driver as CRI-O does", () => {
    const args = conmonArgs(base);
    const pairs = new Map<string, string>();
    for (let i = 0; i < args.length - 1; i++) if (args[i]!.startsWith("-")) pairs.set(args[i]!, args[i + 1]!);
    assert.equal(pairs.get("-c"), "c1");
    assert.equal(pairs.get("-u"), "c1");
    assert.equal(pairs.get("-b"), "/r/containers/c1");
    assert.equal(pairs.get("-l"), "k8s-file:/logs/app/0.log");
    assert.equal(pairs.get("--runtime-arg"), "--root=/r/runc");
    assert.equal(pairs.get("--exit-dir"), "/r/exits");
    assert.equal(pairs.get("--persist-dir"), "/r/containers/c1");
    assert.equal(pairs.get("--socket-dir-path"), "/r/sockets");
    assert.ok(!args.includes("-t") && !args.includes("-i"));
  });
  it("wires terminal and stdin", () => {
    assert.ok(conmonArgs({ ...base, tty: true, stdin: true }).includes("-t"));
    const stdin = conmonArgs({ ...base, stdin: true });
    assert.ok(stdin.includes("-i") && stdin.includes("--leave-stdin-open"));
    const once = conmonArgs({ ...base, stdin: true, stdinOnce: true });
    assert.ok(once.includes("-i") && !once.includes("--leave-stdin-open"));
  });
});
