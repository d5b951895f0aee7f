import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { machineMemory, parseLoadavgTasks, parseNetDev, parseProcStatCpuNanos, ProcFs } from "./proc-stats.js";

const tmp = mkdtempSync("/tmp/skiff-procfs-");
after(() => rmSync(tmp, { recursive: true, force: true }));

const NET_DEV = [
  "Inter-|   Receive                                                |  Transmit",
  " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed",
  "    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0",
  "  eth0:  123456     100    2    0    0     0          0         0    65432      90    1    0    0     0       0          0",
  "veth1234:   5       1    0    0    0     0          0         0        5       1    0    0    0     0       0          0",
  "  cni0:     700       7    0    0    0     0          0         0      800       8    0    0    0     0       0          0",
  "",
].join("\n");

test("busy cpu time from /proc/stat: user+nice+system+irq+softirq+steal ticks at 100 Hz", () => {
  const text = "cpu  100 20 30 5000 40 5 6 7 0 0\ncpu0 50 10 15 2500 20 2 3 3 0 0\n";
  assert.equal(parseProcStatCpuNanos(text), (100 + 20 + 30 + 5 + 6 + 7) * 10_000_000);
  assert.equal(parseProcStatCpuNanos("intr 1 2 3\n"), undefined);
});

test("machine memory from meminfo: usage = total - free, working set = usage - Inactive(file)", () => {
  const meminfo = "MemTotal:        1000 kB\nMemFree:          200 kB\nInactive(file):   300 kB\nAnonPages:        100 kB\nHugePages_Total:     0\n";
  assert.deepEqual(machineMemory(meminfo, "pgfault 10\npgmajfault 2\n"), {
    capacityBytes: 1000 * 1024,
    usageBytes: 800 * 1024,
    workingSetBytes: 500 * 1024,
    rssBytes: 100 * 1024,
    pageFaults: 10,
    majorPageFaults: 2,
  });
  assert.equal(machineMemory("Buffers: 1 kB\n", undefined), undefined);
});

test("tasks from /proc/loadavg", () => {
  assert.equal(parseLoadavgTasks("0.10 0.20 0.30 3/512 12345\n"), 512);
  assert.equal(parseLoadavgTasks("garbage"), undefined);
});

test("net/dev: loopback and veth are left out, the rest in file order", () => {
  assert.deepEqual(parseNetDev(NET_DEV), [
    { name: "eth0", rxBytes: 123456, rxErrors: 2, txBytes: 65432, txErrors: 1 },
    { name: "cni0", rxBytes: 700, rxErrors: 0, txBytes: 800, txErrors: 0 },
  ]);
});

test("ProcFs reads a fixture proc root: rlimit is the lower of pid_max and threads-max", () => {
  const root = join(tmp, "proc");
  mkdirSync(join(root, "sys", "kernel"), { recursive: true });
  mkdirSync(join(root, "42", "net"), { recursive: true });
  writeFileSync(join(root, "sys", "kernel", "pid_max"), "4194304\n");
  writeFileSync(join(root, "sys", "kernel", "threads-max"), "127000\n");
  writeFileSync(join(root, "loadavg"), "0.00 0.01 0.05 1/321 999\n");
  writeFileSync(join(root, "uptime"), "100.50 180.00\n");
  writeFileSync(join(root, "42", "net", "dev"), NET_DEV);
  const proc = new ProcFs(root);
  assert.deepEqual(proc.rlimit(), { maxpid: 127000, curproc: 321 });
  assert.equal(proc.bootTime(1_000_000), 1_000_000 - 100_500);
  assert.equal(proc.netDev(42)?.[0]?.name, "eth0");
  assert.equal(proc.netDev(43), undefined);
  assert.equal(proc.cpuUsageNanos(), undefined);
  // Without threads-max there is no limit to report.
  rmSync(join(root, "sys", "kernel", "threads-max"));
  assert.deepEqual(proc.rlimit(), { curproc: 321 });
});

test("the host's own /proc reads", () => {
  const proc = new ProcFs();
  assert.ok((proc.cpuUsageNanos() ?? 0) > 0);
  const mem = proc.memory()!;
  assert.ok(mem.capacityBytes > 0 && mem.workingSetBytes <= mem.usageBytes && mem.usageBytes <= mem.capacityBytes);
  assert.ok((proc.rlimit().maxpid ?? 0) > 0);
});
