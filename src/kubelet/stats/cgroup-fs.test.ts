import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { CgroupFs, parseFlatKeyed } from "./cgroup-fs.js";

const tmp = mkdtempSync("/tmp/skiff-cgroupfs-");
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Writes `files` (relative path → content) under a fresh directory and returns it. */
function tree(name: string, files: Record<string, string>): string {
  const root = join(tmp, name);
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(root, rel, ".."), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
  mkdirSync(root, { recursive: true });
  return root;
}

const V1_MEMORY_STAT = [
  "cache 4096",
  "rss 8192",
  "pgfault 120",
  "pgmajfault 3",
  "inactive_file 1000",
  "total_cache 409600",
  "total_rss 1048576",
  "total_inactive_file 204800",
  "total_pgfault 999",
  "",
].join("\n");

describe("cgroup v1 (one hierarchy per controller)", () => {
  const pod = "/skiff/burstable/podu1";
  const root = tree("v1", {
    [`cpuacct${pod}/c1/cpuacct.usage`]: "2500000000\n",
    [`cpuacct${pod}/cpuacct.usage`]: "3000000000\n",
    [`cpuacct${pod}/c1/cgroup.procs`]: "42\n43\n",
    [`memory${pod}/c1/memory.usage_in_bytes`]: "2097152\n",
    [`memory${pod}/c1/memory.stat`]: V1_MEMORY_STAT,
    [`memory${pod}/c1/memory.limit_in_bytes`]: "9223372036854771712\n",
    [`memory${pod}/memory.usage_in_bytes`]: "100\n",
    [`memory${pod}/memory.stat`]: "total_inactive_file 4096\n",
    [`memory${pod}/memory.limit_in_bytes`]: "67108864\n",
    [`pids${pod}/pids.current`]: "2\n",
  });
  const fs = new CgroupFs({ root });

  test("the layout is detected as v1 without cgroup.controllers at the root", () => {
    assert.equal(fs.version, 1);
  });

  test("cpu is cpuacct.usage in nanoseconds", () => {
    assert.equal(fs.cpuUsageNanos(`${pod}/c1`), 2_500_000_000);
    assert.equal(fs.cpuUsageNanos(pod), 3_000_000_000);
    assert.equal(fs.cpuUsageNanos(`${pod}/gone`), undefined);
  });

  test("memory: working set is usage minus total_inactive_file; rss is total_rss; faults are the cgroup's own", () => {
    assert.deepEqual(fs.memory(`${pod}/c1`), {
      usageBytes: 2_097_152,
      workingSetBytes: 2_097_152 - 204_800,
      rssBytes: 1_048_576,
      pageFaults: 120,
      majorPageFaults: 3,
    });
  });

  test("a working set never goes below zero, and a real limit is reported", () => {
    const m = fs.memory(pod)!;
    assert.equal(m.workingSetBytes, 0);
    assert.equal(m.limitBytes, 67_108_864);
  });

  test("tasks, processes and existence", () => {
    assert.equal(fs.tasks(pod), 2);
    assert.deepEqual(fs.procs(`${pod}/c1`), [42, 43]);
    assert.equal(fs.exists(pod), true);
    assert.equal(fs.exists("/skiff/podnone"), false);
    assert.equal(fs.memory("/skiff/podnone"), undefined);
    assert.equal(typeof fs.createdAt(pod), "number");
  });

  test("cpu and cpuacct co-mounted as cpu,cpuacct are found", () => {
    const co = new CgroupFs({ root: tree("v1-comount", { "cpu,cpuacct/x/cpuacct.usage": "77\n" }) });
    assert.equal(co.cpuUsageNanos("/x"), 77);
  });
});

describe("cgroup v2 (unified)", () => {
  const pod = "/skiff/podu2";
  const root = tree("v2", {
    "cgroup.controllers": "cpu memory pids\n",
    [`${pod}/c2/cpu.stat`]: "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n",
    [`${pod}/c2/memory.current`]: "5000000\n",
    [`${pod}/c2/memory.stat`]: "anon 3000000\nfile 2000000\ninactive_file 1000000\npgfault 77\npgmajfault 1\n",
    [`${pod}/c2/memory.max`]: "max\n",
    [`${pod}/c2/pids.current`]: "1\n",
    [`${pod}/c3/memory.current`]: "1000\n",
    [`${pod}/c3/memory.stat`]: "anon 1000\ninactive_file 0\n",
    [`${pod}/c3/memory.max`]: "268435456\n",
  });
  const fs = new CgroupFs({ root });

  test("the layout is detected as v2", () => {
    assert.equal(fs.version, 2);
  });

  test("cpu is cpu.stat usage_usec in nanoseconds", () => {
    assert.equal(fs.cpuUsageNanos(`${pod}/c2`), 1_500_000_000);
  });

  test("memory: working set is memory.current minus inactive_file; rss is anon; max means no limit", () => {
    assert.deepEqual(fs.memory(`${pod}/c2`), { usageBytes: 5_000_000, workingSetBytes: 4_000_000, rssBytes: 3_000_000, pageFaults: 77, majorPageFaults: 1 });
    assert.equal(fs.memory(`${pod}/c3`)!.limitBytes, 268_435_456);
    assert.equal(fs.tasks(`${pod}/c2`), 1);
  });
});

test("parseFlatKeyed reads key-value lines and skips junk", () => {
  assert.deepEqual([...parseFlatKeyed("a 1\nb  2\n\nbad\nc x\n")], [
    ["a", 1],
    ["b", 2],
  ]);
});

test("the host's own cgroupfs reads (whatever its layout)", () => {
  const fs = new CgroupFs();
  const cpu = fs.cpuUsageNanos("/");
  // The root cgroup of v1 has cpuacct.usage, of v2 (recent kernels) cpu.stat; either way it counts up from boot.
  if (cpu !== undefined) assert.ok(cpu > 0);
});
