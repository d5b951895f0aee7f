/** `skiff agent` flags: help, and clear refusals for what is not there yet. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { skiff } from "./support/skiff.js";

describe("skiff agent (CLI)", () => {
  it("documents its flags", () => {
    const r = skiff(["agent", "--help"]);
    assert.equal(r.status, 0, r.stderr);
    for (const flag of ["--server", "--token", "--kubeconfig", "--node-name", "--data-dir", "--runtime", "--simulate-nodes", "--kubelet-config", "--kubelet-port", "--cleanup"]) {
      assert.ok(r.stdout.includes(flag), `--help mentions ${flag}`);
    }
  });

  it("refuses simulated nodes with the real runtime, and unknown runtimes", () => {
    const sim = skiff(["agent", "--server", "https://127.0.0.1:1", "--token", "t", "--runtime", "runc", "--simulate-nodes", "2"]);
    assert.notEqual(sim.status, 0);
    assert.match(sim.stderr, /--simulate-nodes needs --runtime sim/);
    const other = skiff(["agent", "--server", "https://127.0.0.1:1", "--token", "t", "--runtime", "docker"]);
    assert.notEqual(other.status, 0);
    assert.match(other.stderr, /--runtime must be runc or sim, not docker/);
  });

  it("asks for credentials and a way to verify the server", () => {
    const noToken = skiff(["agent", "--server", "https://127.0.0.1:1", "--runtime", "sim"]);
    assert.notEqual(noToken.status, 0);
    assert.match(noToken.stderr, /--token TOKEN .* or --kubeconfig FILE/);
    const noCa = skiff(["agent", "--server", "https://127.0.0.1:1", "--token", "t", "--runtime", "sim"]);
    assert.notEqual(noCa.status, 0);
    assert.match(noCa.stderr, /--certificate-authority FILE/);
  });

  it("names a kubelet config file it cannot read", () => {
    const r = skiff(["agent", "--server", "https://127.0.0.1:1", "--token", "t", "--runtime", "sim", "--kubelet-config", "/nonexistent.yaml"]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--kubelet-config \/nonexistent.yaml/);
  });
});
