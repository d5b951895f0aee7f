import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { execSync } from "./exec-sync.js";
import { makeTestHost, type TestContainer, type TestHost } from "./test-fixture.js";

/** A hung stream fails its test (and cleanup still runs) instead of hanging the suite. */
const LIMIT = { timeout: 60_000 };

describe("runc execSync", () => {
  let host: TestHost;
  let ctr: TestContainer;
  before(async () => {
    host = await makeTestHost();
    ctr = await host.makeContainer({ args: ["sleep", "3600"] });
  });
  after(async () => {
    await host?.cleanup();
  });

  it("captures stdout, stderr and the exit code", LIMIT, async () => {
    const r = await execSync(ctr.target, ["sh", "-c", "echo out; echo err >&2; exit 3"], 0);
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.value.exitCode, 3);
    assert.equal(r.value.stdout.toString(), "out\n");
    assert.equal(r.value.stderr.toString(), "err\n");
    assert.equal(r.value.timedOut, false);
  });

  it("runs in the container (its hostname, its processes)", LIMIT, async () => {
    const r = await execSync(ctr.target, ["hostname"], 10);
    assert.ok(r.ok);
    assert.equal(r.value.stdout.toString(), "streaming-test\n");
    assert.equal(r.value.exitCode, 0);
  });

  it("kills the command and its children after the timeout", LIMIT, async () => {
    const r = await execSync(ctr.target, ["sh", "-c", "echo started; sleep 300 & sleep 300; echo never"], 1);
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.value.timedOut, true);
    assert.equal(r.value.stdout.toString(), "started\n");
    // Nothing the timed-out command started is left in the container.
    // (Killed children linger as zombies of the container's init, which
    // does not reap: only live ones count.)
    const ps = await execSync(ctr.target, ["ps", "-o", "stat,comm"], 10);
    assert.ok(ps.ok);
    const live = ps.value.stdout
      .toString()
      .split("\n")
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .filter(([stat, comm]) => comm !== undefined && !stat?.startsWith("Z"))
      .map(([, comm]) => comm);
    assert.deepEqual(live.filter((c) => c === "sleep" || c === "sh"), ["sleep"], `only the container's own sleep remains: ${live.join(",")}`);
  });

  it("caps each output stream", LIMIT, async () => {
    const r = await execSync(ctr.target, ["sh", "-c", "yes | head -c 100000"], 10, { outputLimit: 1000 });
    assert.ok(r.ok);
    assert.equal(r.value.stdout.length, 1000);
    assert.equal(r.value.exitCode, 0);
  });

  it("a command that does not exist is a failure, not an exit code", LIMIT, async () => {
    const r = await execSync(ctr.target, ["no-such-command"], 10);
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.error.code === "Unknown");
    assert.match(!r.ok ? r.error.message : "", /no-such-command.*executable file not found/);
  });

  it("a container runc does not know is NotFound", LIMIT, async () => {
    const r = await execSync({ ...ctr.target, containerId: "no-such-container" }, ["true"], 10);
    assert.deepEqual(r, { ok: false, error: { code: "NotFound", message: 'could not find container "no-such-container"' } });
  });

  it("rejects an empty command", LIMIT, async () => {
    const r = await execSync(ctr.target, [], 10);
    assert.equal(!r.ok && r.error.code, "InvalidArgument");
  });

  it("a stopped container is FailedPrecondition", LIMIT, async () => {
    const other = await host.makeContainer({ args: ["sleep", "3600"] });
    await other.kill();
    const r = await execSync(other.target, ["true"], 10);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.code, "FailedPrecondition");
    assert.match(!r.ok ? r.error.message : "", /is not created or running/);
  });
});
