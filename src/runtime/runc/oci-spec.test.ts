import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ImageRunConfig } from "../images/types.js";
import type { ContainerConfig } from "../types.js";
import { DEFAULT_CAPABILITIES, containerNofile } from "./oci-defaults.js";
import { buildSpec, mountProblem, processArgs, processEnv, type SpecInput } from "./oci-spec.js";

const image: ImageRunConfig = { entrypoint: ["/entry"], cmd: ["serve", "--port=80"], env: ["PATH=/img/bin", "A=image"], workingDir: "/srv", user: "", volumes: [] };

function config(over: Partial<ContainerConfig> = {}): ContainerConfig {
  return { metadata: { name: "app", attempt: 0 }, image: "img", command: [], args: [], envs: [], mounts: [], labels: {}, annotations: {}, ...over };
}

function input(over: Partial<SpecInput> = {}): SpecInput {
  return {
    config: config(),
    image,
    rootfs: "/r/rootfs",
    user: { uid: 0, gid: 0, additionalGids: [] },
    cgroupsPath: "/skiff/podu/c1",
    cgroupV2: false,
    nofile: 4096,
    sandbox: {
      sandboxId: "sb1",
      netnsPath: "/run/netns/x",
      ipcNsPath: "/s/ns/ipc",
      utsNsPath: "/s/ns/uts",
      hostname: "web-0",
      shmPath: "/s/shm",
      hostsPath: "/s/hosts",
      resolvConfPath: "/s/resolv.conf",
      hostnamePath: "/s/hostname",
    },
    ...over,
  };
}

describe("processArgs (Kubernetes command/args over Entrypoint/Cmd)", () => {
  it("keeps the image's entrypoint and cmd when neither is set", () => {
    assert.deepEqual(processArgs(config(), image), ["/entry", "serve", "--port=80"]);
  });
  it("command replaces the entrypoint and drops the image's cmd", () => {
    assert.deepEqual(processArgs(config({ command: ["/bin/sh"] }), image), ["/bin/sh"]);
  });
  it("args replace the cmd and keep the entrypoint", () => {
    assert.deepEqual(processArgs(config({ args: ["x"] }), image), ["/entry", "x"]);
  });
  it("command and args together replace both", () => {
    assert.deepEqual(processArgs(config({ command: ["sh", "-c"], args: ["echo hi"] }), image), ["sh", "-c", "echo hi"]);
  });
});

describe("processEnv", () => {
  it("orders image env, HOSTNAME, then the container's, replacing by name in place", () => {
    const env = processEnv(["PATH=/img/bin", "A=image", "B=image"], "web-0", [{ key: "A", value: "pod" }, { key: "C", value: "x=y" }], false);
    assert.deepEqual(env, ["PATH=/img/bin", "A=pod", "B=image", "HOSTNAME=web-0", "C=x=y"]);
  });
  it("adds the default PATH when the image has none, and TERM for a terminal", () => {
    const env = processEnv([], "h", [], true);
    assert.deepEqual(env, ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=h", "TERM=xterm"]);
  });
});

describe("buildSpec", () => {
  it("joins the sandbox's namespaces by path and makes its own pid and mount namespaces", () => {
    const spec = buildSpec(input());
    assert.deepEqual(spec.linux.namespaces, [
      { type: "pid" },
      { type: "mount" },
      { type: "ipc", path: "/s/ns/ipc" },
      { type: "uts", path: "/s/ns/uts" },
      { type: "network", path: "/run/netns/x" },
    ]);
    assert.equal(spec.hostname, "web-0");
  });
  it("leaves network and UTS to the host for host-network sandboxes, and adds a cgroup namespace on v2", () => {
    const base = input();
    const spec = buildSpec(input({ cgroupV2: true, sandbox: { ...base.sandbox, netnsPath: undefined, utsNsPath: undefined } }));
    assert.deepEqual(spec.linux.namespaces.map((n) => n.type), ["pid", "mount", "ipc", "cgroup"]);
    assert.equal(spec.hostname, undefined);
  });
  it("uses the working dir of the config, else the image's, else /", () => {
    assert.equal(buildSpec(input({ config: config({ workingDir: "/w" }) })).process.cwd, "/w");
    assert.equal(buildSpec(input()).process.cwd, "/srv");
    assert.equal(buildSpec(input({ image: { ...image, workingDir: "" } })).process.cwd, "/");
  });
  it("sets terminal, user, capabilities, rlimit and no_new_privileges", () => {
    const spec = buildSpec(input({ config: config({ tty: true }), user: { uid: 1000, gid: 1000, additionalGids: [10] } }));
    assert.equal(spec.process.terminal, true);
    assert.deepEqual(spec.process.user, { uid: 1000, gid: 1000, additionalGids: [10] });
    assert.deepEqual(spec.process.capabilities.bounding, [...DEFAULT_CAPABILITIES]);
    assert.deepEqual(spec.process.capabilities.effective, [...DEFAULT_CAPABILITIES]);
    assert.deepEqual(spec.process.rlimits, [{ type: "RLIMIT_NOFILE", hard: 4096, soft: 4096 }]);
    assert.equal(spec.process.noNewPrivileges, false);
    assert.ok(spec.linux.maskedPaths.includes("/proc/kcore"));
    assert.ok(spec.linux.readonlyPaths.includes("/proc/sys"));
  });
  it("mounts the kernel filesystems and the pod's shared files, unless the container mounts its own there", () => {
    const spec = buildSpec(input());
    const dests = spec.mounts.map((m) => m.destination);
    assert.deepEqual(dests, ["/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/dev/shm", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname"]);
    assert.equal(spec.mounts.find((m) => m.destination === "/etc/hosts")?.source, "/s/hosts");
    assert.ok(spec.mounts.find((m) => m.destination === "/sys")?.options.includes("ro"));
    const own = buildSpec(input({ config: config({ mounts: [{ containerPath: "/etc/hosts", hostPath: "/mine" }] }) }));
    const hosts = own.mounts.filter((m) => m.destination === "/etc/hosts");
    assert.deepEqual(hosts.map((m) => m.source), ["/mine"]);
  });
  it("maps CRI mounts to binds with propagation and read-only, parents first", () => {
    const spec = buildSpec(
      input({
        config: config({
          mounts: [
            { containerPath: "/data/cache", hostPath: "/h/cache", propagation: "host-to-container" },
            { containerPath: "/data", hostPath: "/h/data", readonly: true },
          ],
        }),
      }),
    );
    const user = spec.mounts.slice(-2);
    assert.deepEqual(user, [
      { destination: "/data", type: "bind", source: "/h/data", options: ["rbind", "rprivate", "ro"] },
      { destination: "/data/cache", type: "bind", source: "/h/cache", options: ["rbind", "rslave", "rw"] },
    ]);
    assert.equal(spec.linux.rootfsPropagation, "rslave");
    const shared = buildSpec(input({ config: config({ mounts: [{ containerPath: "/b", hostPath: "/h/b", propagation: "bidirectional" }] }) }));
    assert.equal(shared.linux.rootfsPropagation, "rshared");
    assert.equal(buildSpec(input()).linux.rootfsPropagation, "rprivate");
  });
  it("turns resources into the cgroup settings", () => {
    const spec = buildSpec(input({ config: config({ resources: { cpuShares: 512, cpuQuota: 50000, cpuPeriod: 100000, memoryLimitInBytes: 16 << 20, oomScoreAdj: 900 } }) }));
    assert.deepEqual(spec.linux.resources, {
      devices: [{ allow: false, access: "rwm" }],
      memory: { limit: 16 << 20 },
      cpu: { shares: 512, quota: 50000, period: 100000 },
    });
    assert.equal(spec.process.oomScoreAdj, 900);
    assert.equal(spec.linux.cgroupsPath, "/skiff/podu/c1");
    const none = buildSpec(input());
    assert.deepEqual(none.linux.resources, { devices: [{ allow: false, access: "rwm" }] });
  });
});

describe("mountProblem", () => {
  it("rejects relative paths, the root and duplicates", () => {
    assert.match(mountProblem([{ containerPath: "data", hostPath: "/h" }]) ?? "", /not an absolute path/);
    assert.match(mountProblem([{ containerPath: "/d", hostPath: "h" }]) ?? "", /not an absolute path/);
    assert.match(mountProblem([{ containerPath: "/", hostPath: "/h" }]) ?? "", /root directory/);
    assert.match(mountProblem([{ containerPath: "/d", hostPath: "/a" }, { containerPath: "/d/", hostPath: "/b" }]) ?? "", /duplicate/);
    assert.equal(mountProblem([{ containerPath: "/d", hostPath: "/a" }]), undefined);
  });
});

describe("containerNofile", () => {
  it("caps the default at the agent's hard limit", () => {
    const limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 20000                files\n";
    assert.equal(containerNofile(limits), 20000);
    assert.equal(containerNofile(limits.replace("20000", "unlimited")), 1048576);
    assert.equal(containerNofile(limits.replace("20000", "4194304")), 1048576);
  });
});
