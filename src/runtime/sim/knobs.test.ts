import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ContainerConfig } from "../types.js";
import { behaviourOf, imageTag, simulatedPullFailure, simulateScript } from "./knobs.js";

const config = (command: string[], args: string[] = [], env: Record<string, string> = {}): ContainerConfig => ({
  metadata: { name: "c", attempt: 0 },
  image: "busybox:1.36",
  command,
  args,
  envs: Object.entries(env).map(([key, value]) => ({ key, value })),
  mounts: [],
  labels: {},
  annotations: {},
});

describe("sim knobs", () => {
  const table: { argv: string[]; args?: string[]; env?: Record<string, string>; runMs: number | undefined; exitCode: number }[] = [
    { argv: ["sh", "-c", "exit 1"], runMs: 0, exitCode: 1 },
    { argv: ["/bin/sh", "-c", "sleep 2; exit 3"], runMs: 2000, exitCode: 3 },
    { argv: ["sh"], args: ["-c", "echo hi && false"], runMs: 0, exitCode: 1 },
    { argv: ["sh", "-c", "false || true"], runMs: 0, exitCode: 0 },
    { argv: ["sleep", "0.5"], runMs: 500, exitCode: 0 },
    { argv: ["true"], runMs: 0, exitCode: 0 },
    { argv: ["nginx", "-g", "daemon off;"], runMs: undefined, exitCode: 0 },
    { argv: ["sh", "-c", "while true; do sleep 1; done"], runMs: undefined, exitCode: 0 },
    { argv: ["sleep", "infinity"], runMs: undefined, exitCode: 0 },
    { argv: [], runMs: undefined, exitCode: 0 },
    { argv: [], env: { SKIFF_SIM_EXIT_CODE: "7" }, runMs: 0, exitCode: 7 },
    { argv: [], env: { SKIFF_SIM_RUN_SECONDS: "1.5" }, runMs: 1500, exitCode: 0 },
    { argv: ["sh", "-c", "exit 1"], env: { SKIFF_SIM_EXIT_CODE: "0", SKIFF_SIM_RUN_SECONDS: "3" }, runMs: 3000, exitCode: 0 },
    { argv: [], env: { SKIFF_SIM_OOM: "true" }, runMs: 0, exitCode: 137 },
  ];
  for (const t of table) {
    it(`${JSON.stringify([...t.argv, ...(t.args ?? [])])} ${JSON.stringify(t.env ?? {})}`, () => {
      const b = behaviourOf(config(t.argv, t.args, t.env));
      assert.equal(b.runMs, t.runMs);
      assert.equal(b.exitCode, t.exitCode);
    });
  }

  it("reads readiness, termination and start-error knobs", () => {
    const b = behaviourOf(config([], [], { SKIFF_SIM_READY: "false", SKIFF_SIM_TERM_SECONDS: "2", SKIFF_SIM_TERM_EXIT_CODE: "143", SKIFF_SIM_START_ERROR: "boom" }));
    assert.equal(b.ready, false);
    assert.equal(b.termMs, 2000);
    assert.equal(b.termExitCode, 143);
    assert.equal(b.startError, "boom");
    assert.equal(behaviourOf(config([])).ready, undefined);
  });

  it("fails pulls of :missing and :unauthorized tags only", () => {
    assert.equal(simulatedPullFailure("nginx:missing")?.code, "NotFound");
    assert.match(simulatedPullFailure("nginx:missing")!.message, /nginx:missing: not found$/);
    assert.equal(simulatedPullFailure("registry:5000/x:unauthorized")?.code, "Unauthenticated");
    assert.equal(simulatedPullFailure("registry:5000/missing"), undefined);
    assert.equal(imageTag("registry:5000/app"), "");
    assert.equal(imageTag("app:1@sha256:ab"), "1");
  });

  it("treats a script it cannot read as running until stopped", () => {
    assert.equal(simulateScript("exec nginx"), undefined);
    assert.deepEqual(simulateScript("sleep 1; sleep 2"), { ms: 3000, status: 0 });
  });
});
