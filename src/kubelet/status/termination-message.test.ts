import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ContainerStatus } from "../../runtime/types.js";
import { CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION } from "../runtime-labels.js";
import { CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION } from "../runtime-labels.js";
import { lastLogLines, TerminationMessages, terminationMessage, withTerminationMessage } from "./termination-message.js";

function criLine(stream: string, tag: string, text: string, i = 0): string {
  return `2026-01-01T00:00:${String(i % 60).padStart(2, "0")}.000000000Z ${stream} ${tag} ${text}\n`;
}

describe("termination messages", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync("/tmp/skiff-termmsg-");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function status(opts: { exitCode?: number; file?: string; policy?: string; log?: string; state?: ContainerStatus["state"]; reason?: string; path?: string } = {}): ContainerStatus {
    const annotations: Record<string, string> = { [CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION]: opts.path ?? "/dev/termination-log" };
    if (opts.policy) annotations[CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION] = opts.policy;
    return {
      id: "c1",
      podSandboxId: "sb",
      metadata: { name: "app", attempt: 0 },
      image: "i",
      imageRef: "i",
      state: opts.state ?? "exited",
      createdAt: 1,
      startedAt: 2,
      finishedAt: 3,
      exitCode: opts.exitCode ?? 0,
      reason: opts.reason ?? (opts.exitCode ? "Error" : "Completed"),
      message: "",
      labels: {},
      annotations,
      mounts: opts.file ? [{ containerPath: "/dev/termination-log", hostPath: opts.file }] : [],
      logPath: opts.log ?? "",
    };
  }

  it("reads the file behind terminationMessagePath; FallbackToLogsOnError uses the log when it is empty and the container failed (table)", async () => {
    const msg = join(dir, "msg");
    writeFileSync(msg, "it broke");
    const empty = join(dir, "empty");
    writeFileSync(empty, "");
    const long = join(dir, "long");
    writeFileSync(long, "a".repeat(5000) + "END");
    const log = join(dir, "0.log");
    writeFileSync(log, criLine("stdout", "F", "starting", 1) + criLine("stderr", "P", "fatal: ", 2) + criLine("stderr", "F", "disk full", 3));
    const subdir = join(dir, "a-directory");
    mkdirSync(subdir);
    const cases: [string, Parameters<typeof status>[0], string][] = [
      ["file", { file: msg }, "it broke"],
      ["no mount", {}, ""],
      ["missing file", { file: join(dir, "nope") }, ""],
      ["the last 4096 bytes", { file: long }, "a".repeat(4093) + "END"],
      ["fallback to the log", { file: empty, exitCode: 1, policy: "FallbackToLogsOnError", log }, "starting\nfatal: disk full\n"],
      ["file wins over the log", { file: msg, exitCode: 1, policy: "FallbackToLogsOnError", log }, "it broke"],
      ["no fallback after success", { file: empty, exitCode: 0, policy: "FallbackToLogsOnError", log }, ""],
      ["no fallback under File", { file: empty, exitCode: 1, policy: "File", log }, ""],
      ["no fallback when it could not run", { file: empty, exitCode: 128, reason: "ContainerCannotRun", policy: "FallbackToLogsOnError", log }, ""],
      ["only mounts at the path count", { file: msg, path: "/tmp/other" }, ""],
      ["running containers have none", { file: msg, state: "running" }, ""],
      ["unreadable", { file: subdir }, `Error on reading termination log ${subdir}: read ${subdir}: is a directory`],
    ];
    for (const [name, opts, want] of cases) assert.equal(await terminationMessage(status(opts), undefined), want, name);
    // The spec's policy when the container has no annotation.
    assert.equal(await terminationMessage(status({ file: empty, exitCode: 2, log }), "FallbackToLogsOnError"), "starting\nfatal: disk full\n");
  });

  it("takes the last 80 log lines and at most 2048 bytes of them", () => {
    let raw = "";
    for (let i = 0; i < 100; i++) raw += criLine("stdout", "F", `line ${i}`, i);
    const out = lastLogLines(Buffer.from(raw), 80, 2048);
    assert.ok(out.startsWith("line 20\n"), out.slice(0, 20));
    assert.ok(out.endsWith("line 99\n"));
    const wide = lastLogLines(Buffer.from(criLine("stdout", "F", "x".repeat(3000))), 80, 2048);
    assert.equal(wide.length, 2048);
    assert.equal(lastLogLines(Buffer.from("garbage\n" + criLine("stdout", "F", "ok")), 80, 2048), "ok\n");
  });

  it("enriches the runtime's message and reads each container once", async () => {
    assert.equal(withTerminationMessage("", "bye"), "bye");
    assert.equal(withTerminationMessage("OOM", "bye"), "OOM: bye");
    assert.equal(withTerminationMessage("OOM", ""), "OOM");
    let reads = 0;
    const messages = new TerminationMessages(async () => {
      reads++;
      return { ok: true, data: Buffer.from("bye") };
    });
    const st = status({ file: "/ignored" });
    let loads = 0;
    const load = async () => {
      loads++;
      return st;
    };
    assert.equal(await messages.of("c1", load, undefined), "bye");
    assert.equal(await messages.of("c1", load, undefined), "bye");
    assert.equal(reads, 1);
    assert.equal(loads, 1);
    messages.forget("c1");
    assert.equal(await messages.of("c1", load, undefined), "bye");
    assert.equal(reads, 2);
  });
});
