/**
 * Where the runc runtime keeps things under its root directory
 * (`<data-dir>/agent/runtime`). Everything the runtime knows lives here, so
 * a new runtime object on the same directory (after the agent was killed)
 * finds every sandbox and container again.
 *
 * ```
 * <root>/runc/                 runc --root: runc's own state, private to this runtime
 * <root>/exits/<ctr-id>        conmon --exit-dir: one file per exited container (watched)
 * <root>/sockets/<ctr-id>      conmon --socket-dir-path: symlink to the bundle (attach socket)
 * <root>/exec/                 per-exec state directories of exec and execSync
 * <root>/sandboxes/<sb-id>/    sandbox.json, hostname, hosts, resolv.conf, shm/, ns/{ipc,uts}
 * <root>/containers/<ctr-id>/  the OCI bundle: config.json, container.json, rootfs/, upper/,
 *                              work/, pidfile, conmon.pid, exit, oom, ctl, winsz, attach
 * ```
 */
import { join } from "node:path";

/** The directory layout of one runc runtime. */
export class RuncPaths {
  constructor(readonly root: string) {}

  get runcRoot(): string {
    return join(this.root, "runc");
  }
  get exitDir(): string {
    return join(this.root, "exits");
  }
  get socketDir(): string {
    return join(this.root, "sockets");
  }
  get execDir(): string {
    return join(this.root, "exec");
  }
  get sandboxesDir(): string {
    return join(this.root, "sandboxes");
  }
  get containersDir(): string {
    return join(this.root, "containers");
  }

  sandboxDir(id: string): string {
    return join(this.sandboxesDir, id);
  }
  sandboxState(id: string): string {
    return join(this.sandboxDir(id), "sandbox.json");
  }
  sandboxShm(id: string): string {
    return join(this.sandboxDir(id), "shm");
  }
  sandboxNs(id: string, kind: "ipc" | "uts"): string {
    return join(this.sandboxDir(id), "ns", kind);
  }
  sandboxFile(id: string, name: "hostname" | "hosts" | "resolv.conf"): string {
    return join(this.sandboxDir(id), name);
  }

  /** The container's directory: its OCI bundle and conmon's persist dir. */
  bundle(id: string): string {
    return join(this.containersDir, id);
  }
  containerState(id: string): string {
    return join(this.bundle(id), "container.json");
  }
  rootfs(id: string): string {
    return join(this.bundle(id), "rootfs");
  }
  upper(id: string): string {
    return join(this.bundle(id), "upper");
  }
  work(id: string): string {
    return join(this.bundle(id), "work");
  }
  pidFile(id: string): string {
    return join(this.bundle(id), "pidfile");
  }
  conmonPidFile(id: string): string {
    return join(this.bundle(id), "conmon.pid");
  }
  /** conmon's exit file in the persist dir (the exit code as decimal text). */
  persistExit(id: string): string {
    return join(this.bundle(id), "exit");
  }
  /** conmon creates this (empty) when the kernel OOM-killed in the container's cgroup. */
  oomFile(id: string): string {
    return join(this.bundle(id), "oom");
  }
  exitFile(id: string): string {
    return join(this.exitDir, id);
  }
  /** conmon's per-container socket directory (a symlink to the bundle). */
  containerSocketDir(id: string): string {
    return join(this.socketDir, id);
  }
}
