import assert from "node:assert/strict";
import { access, readFile, rename } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { reopenContainerLog, resizeContainerTerminal } from "./ctl-fifo.js";
import { execSync } from "./exec-sync.js";
import { makeTestHost, type TestContainer, type TestHost } from "./test-fixture.js";

/** Writes a line to the container's own stdout, i.e. into conmon's log. */
async function logLine(ctr: TestContainer, text: string): Promise<void> {
  const r = await execSync(ctr.target, ["sh", "-c", `echo ${text} > /proc/1/fd/1`], 10);
  assert.ok(r.ok && r.value.exitCode === 0, JSON.stringify(r));
}

/** Bounded wait for something conmon does asynchronously. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never happened: ${what}`);
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );
const contains = (p: string, s: string) => readFile(p, "utf8").then((t) => t.includes(s), () => false);

/** A hung stream fails its test (and cleanup still runs) instead of hanging the suite. */
const LIMIT = { timeout: 60_000 };

describe("conmon control FIFO", () => {
  let host: TestHost;
  let ctr: TestContainer;
  before(async () => {
    host = await makeTestHost();
    ctr = await host.makeContainer({ args: ["sleep", "3600"] });
  });
  after(async () => {
    await host?.cleanup();
  });

  it("reopenContainerLog makes conmon write to a fresh file after rotation", LIMIT, async () => {
    await logLine(ctr, "before-rotation");
    await eventually(() => contains(ctr.logPath, "before-rotation"), "first line logged");
    await rename(ctr.logPath, `${ctr.logPath}.1`);
    assert.deepEqual(await reopenContainerLog(ctr.target), { ok: true, value: undefined });
    await eventually(() => exists(ctr.logPath), "conmon reopened the log");
    await logLine(ctr, "after-rotation");
    await eventually(() => contains(ctr.logPath, "after-rotation"), "second line logged in the new file");
    const rotated = await readFile(`${ctr.logPath}.1`, "utf8");
    assert.match(rotated, /stdout F before-rotation\n/);
    assert.doesNotMatch(rotated, /after-rotation/);
    assert.doesNotMatch(await readFile(ctr.logPath, "utf8"), /before-rotation/);
  });

  it("a container whose conmon is gone is not running", LIMIT, async () => {
    const other = await host.makeContainer({ args: ["sleep", "3600"] });
    await other.kill();
    assert.deepEqual(await reopenContainerLog(other.target), {
      ok: false,
      error: { code: "FailedPrecondition", message: `container ${other.target.containerId} is not running (its conmon is gone)` },
    });
    const missing = await reopenContainerLog({ ...other.target, ctlPath: `${other.target.bundleDir}/no-such-ctl` });
    assert.equal(!missing.ok && missing.error.code, "NotFound");
  });

  it("resize needs a terminal and a size conmon accepts", LIMIT, async () => {
    const noTty = await resizeContainerTerminal(ctr.target, 80, 24);
    assert.equal(!noTty.ok && noTty.error.code, "FailedPrecondition");
    const huge = await resizeContainerTerminal({ ...ctr.target, tty: true }, 5000, 24);
    assert.deepEqual(huge, { ok: false, error: { code: "InvalidArgument", message: "terminal width must be an integer from 1 to 1000, got 5000" } });
  });
});
