/**
 * The yardstick of the kubelet benchmark: how long a bare `runc run` of
 * busybox's `true` takes on this machine right now (the issue quotes about
 * 75 ms here when the machine is quiet). Measured beside the pod startup
 * latencies, so figures taken on a busy, shared machine can be read as
 * ratios to it. The bundle is `runc spec`'s default (its own namespaces, no
 * terminal) with a root filesystem holding only the static busybox, in a
 * `/tmp/skiff-*` directory with its own runc root and cgroup path, all
 * removed afterwards.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cgroupMountPoints, removeCgroupTree } from "../../src/runtime/runc/cgroups.js";

const BUSYBOX = "/usr/bin/busybox";

/** Runs `runc run` of `/bin/busybox true` `times` times; returns each run's wall time in ms. */
export function bareRuncRuns(times: number): number[] {
  const dir = mkdtempSync(join(tmpdir(), "skiff-bench-runc-"));
  const cgroup = `/skiff-bench-runc-${randomBytes(3).toString("hex")}`;
  const root = join(dir, "runc");
  const ids: string[] = [];
  try {
    mkdirSync(join(dir, "rootfs", "bin"), { recursive: true });
    for (const d of ["proc", "dev", "sys", "tmp"]) mkdirSync(join(dir, "rootfs", d));
    copyFileSync(BUSYBOX, join(dir, "rootfs", "bin", "busybox"));
    const made = spawnSync("runc", ["spec", "--bundle", dir], { encoding: "utf8" });
    if (made.status !== 0) throw new Error(`runc spec: ${made.stderr}`);
    const spec = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as { process: { terminal: boolean; args: string[] }; linux: { cgroupsPath?: string } };
    spec.process.terminal = false;
    spec.process.args = ["/bin/busybox", "true"];
    const out: number[] = [];
    for (let i = 0; i < times; i++) {
      const id = `skiff-bench-${randomBytes(4).toString("hex")}`;
      ids.push(id);
      spec.linux.cgroupsPath = `${cgroup}/${id}`;
      writeFileSync(join(dir, "config.json"), JSON.stringify(spec));
      const t0 = performance.now();
      const r = spawnSync("runc", ["--root", root, "run", "--bundle", dir, id], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
      const ms = performance.now() - t0;
      if (r.status !== 0) throw new Error(`runc run: exit ${r.status ?? r.signal}: ${r.stderr}`);
      out.push(ms);
    }
    return out;
  } finally {
    // `runc run` removes a container that exited; a failed one may be left.
    for (const id of ids) if (existsSync(join(root, id))) spawnSync("runc", ["--root", root, "delete", "--force", id]);
    if (cgroupMountPoints().some((m) => existsSync(join(m, cgroup)))) removeCgroupTree(cgroup);
    rmSync(dir, { recursive: true, force: true });
  }
}
