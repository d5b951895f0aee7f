/**
 * Everything the streaming functions (`streaming/`: exec, attach,
 * port-forward, log reopen) need to reach one container of the runc
 * runtime, without knowing how the runtime keeps its state.
 */
export interface RuncStreamTarget {
  /** The runc binary (e.g. `/usr/sbin/runc`). */
  readonly runcPath: string;
  /** runc's `--root` for this runtime; pass it to every runc call (`runc --root R exec …`). */
  readonly runcRoot: string;
  /** The container id, as runc and conmon know it (the sandbox id for a sandbox target: port-forward). */
  readonly containerId: string;
  /** The sandbox's network namespace (port-forward enters it); undefined for host-network pods. */
  readonly netnsPath?: string;
  /**
   * conmon's per-container socket directory (`--socket-dir-path` + `/<id>`):
   * a symlink conmon makes to the bundle, holding the `attach` socket. For
   * a sandbox target (port-forward) it is the sandbox directory.
   */
  readonly socketDir: string;
  /**
   * conmon's attach socket (`<socketDir>/attach`, SOCK_SEQPACKET): each
   * message read starts with a stream byte (2 stdout, 3 stderr); bytes
   * written are the container's stdin. Longer than 108 bytes is possible:
   * connect through `/proc/self/fd/<dirfd>/attach` as CRI-O does.
   */
  readonly attachPath: string;
  /**
   * conmon's control FIFO (`<bundleDir>/ctl`; conmon 2.1 makes it in the
   * bundle): `1 H W\n` resizes the terminal (rows, columns), `2 0 0\n`
   * reopens the log file.
   */
  readonly ctlPath: string;
  /** The container was created with a terminal (`tty`). */
  readonly tty: boolean;
  /** The container was created with stdin open (`stdin`). */
  readonly stdin: boolean;
  /** The container closes stdin after the first attach ends (`stdinOnce`). */
  readonly stdinOnce: boolean;
  /** The main process's pid on the host, when known (0 otherwise). */
  readonly pid: number;
  /** The container's state directory (the OCI bundle), where conmon keeps `ctl`, `winsz` and the pid files. */
  readonly bundleDir: string;
}
