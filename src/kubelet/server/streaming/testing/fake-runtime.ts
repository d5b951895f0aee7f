/**
 * Test double of the runtime's streaming calls: exec runs the command as a
 * child process on the host (no container), attach attaches to a child
 * process registered as a container's main process, port-forward connects
 * to a loopback port the test maps. It records what the handlers asked for
 * (resizes, closes) so tests can assert on it. Every process it starts is
 * killed by PID in `cleanup()`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { connect } from "node:net";
import { PassThrough, Readable, Writable } from "node:stream";
import { spawn as spawnPty } from "node-pty";
import {
  type ExecSyncResult,
  fail,
  ok,
  type RuntimeResult,
  type StreamingService,
  type StreamOptions,
  type StreamSession,
} from "../../../../runtime/types.js";

export interface ExecCall {
  readonly containerId: string;
  readonly cmd: readonly string[];
  readonly opts: StreamOptions;
}

/** Lets a test end a session as if the runtime had died. */
export interface RuntimeKillSwitch {
  die(message: string): void;
}

export class FakeStreamingRuntime implements StreamingService {
  readonly execCalls: ExecCall[] = [];
  readonly resizes: { width: number; height: number }[] = [];
  readonly closedSessions: string[] = [];
  /** Sandbox port → loopback port actually connected to. */
  readonly portMap = new Map<number, number>();
  /** Container id → its "main process" for attach. */
  private readonly mains = new Map<string, ChildProcess>();
  private readonly children = new Set<ChildProcess>();
  private readonly killSwitches: ((message: string) => void)[] = [];
  private readonly ptyPids = new Set<number>();
  /** When set, the next exec fails to start with this error. */
  failNextExec: { code: "NotFound" | "Unknown"; message: string } | undefined;

  /** Ends every live session with a runtime error (the runtime "went away"). */
  readonly killSwitch: RuntimeKillSwitch = {
    die: (message) => {
      for (const k of this.killSwitches.splice(0)) k(message);
    },
  };

  /** Registers `argv` as the main process of `containerId` (for attach). */
  startMain(containerId: string, argv: readonly string[]): ChildProcess {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"], detached: true });
    this.children.add(child);
    this.mains.set(containerId, child);
    return child;
  }

  async execSync(): Promise<RuntimeResult<ExecSyncResult>> {
    return fail("Unimplemented", "execSync is not part of the streaming tests");
  }

  async exec(containerId: string, cmd: readonly string[], opts: StreamOptions): Promise<RuntimeResult<StreamSession>> {
    this.execCalls.push({ containerId, cmd, opts });
    // The size a terminal starts with is the first size the session sees.
    if (opts.tty && opts.initialSize) this.resizes.push({ ...opts.initialSize });
    if (this.failNextExec) {
      const f = this.failNextExec;
      this.failNextExec = undefined;
      return fail(f.code, f.message);
    }
    if (opts.tty) return ok(this.ptySession(containerId, cmd, opts));
    // Its own process group, so killing it also kills what it started in the background.
    const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ["pipe", "pipe", "pipe"], detached: true });
    this.children.add(child);
    const spawned = await new Promise<Error | undefined>((resolve) => {
      child.once("spawn", () => resolve(undefined));
      child.once("error", (err) => resolve(err));
    });
    if (spawned) {
      this.children.delete(child);
      return fail("Unknown", `exec: "${cmd[0]}": executable file not found in $PATH`);
    }
    // A command run without -i sees an empty stdin, as in a container.
    if (!opts.stdin) child.stdin?.end();
    return ok(this.sessionFor(containerId, child, opts, true));
  }

  async attach(containerId: string, opts: StreamOptions): Promise<RuntimeResult<StreamSession>> {
    const child = this.mains.get(containerId);
    if (!child || child.exitCode !== null) return fail("NotFound", `container ${containerId} is not running`);
    return ok(this.sessionFor(containerId, child, opts, false));
  }

  async portForward(podSandboxId: string, port: number): Promise<RuntimeResult<NodeJS.ReadWriteStream>> {
    const target = this.portMap.get(port);
    const refused = `failed to connect to localhost:${port} inside namespace "${podSandboxId}": dial tcp 127.0.0.1:${port}: connect: connection refused`;
    if (target === undefined) return fail("Unknown", refused);
    const socket = connect({ host: "127.0.0.1", port: target });
    const err = await new Promise<Error | undefined>((resolve) => {
      socket.once("connect", () => resolve(undefined));
      socket.once("error", (e) => resolve(e));
    });
    if (err) return fail("Unknown", refused);
    return ok(socket);
  }

  async reopenContainerLog(): Promise<RuntimeResult<void>> {
    return ok(undefined);
  }

  /** Kills every process this runtime started, with whatever they started (their process groups). */
  cleanup(): void {
    for (const child of this.children) killGroup(child);
    this.children.clear();
    for (const pid of this.ptyPids) killPid(pid);
    this.ptyPids.clear();
  }

  /** A tty exec: the command in a real pseudo-terminal, so line editing and resizes behave as in a container. */
  private ptySession(id: string, cmd: readonly string[], opts: StreamOptions): StreamSession {
    const pty = spawnPty(cmd[0]!, cmd.slice(1), { cols: 80, rows: 24, name: "xterm" });
    this.ptyPids.add(pty.pid);
    const stdout = new Readable({ read() {} });
    pty.onData((d) => stdout.push(d));
    const exit = new Promise<RuntimeResult<number>>((resolve) => {
      pty.onExit(({ exitCode }) => {
        this.ptyPids.delete(pty.pid);
        stdout.push(null);
        resolve(ok(exitCode));
      });
      this.killSwitches.push((message) => {
        killPid(pty.pid);
        resolve(fail("Unavailable", message));
      });
    });
    const stdin = new Writable({
      write(chunk: Buffer, _enc, cb) {
        pty.write(chunk.toString("utf8"));
        cb();
      },
      // The client's EOF: a terminal's end-of-file character.
      final(cb) {
        pty.write("\x04");
        cb();
      },
    });
    if (!opts.stdout) stdout.resume();
    return {
      stdin: opts.stdin ? stdin : undefined,
      stdout: opts.stdout ? stdout : undefined,
      resize: (width, height) => {
        this.resizes.push({ width, height });
        pty.resize(width, height);
      },
      close: () => {
        this.closedSessions.push(id);
        killPid(pty.pid);
      },
      exit,
    };
  }

  private sessionFor(id: string, child: ChildProcess, opts: StreamOptions, ownsProcess: boolean): StreamSession {
    let stdout: NodeJS.ReadableStream | undefined = child.stdout ?? undefined;
    let stderr: NodeJS.ReadableStream | undefined = child.stderr ?? undefined;
    if (opts.tty && stdout && stderr) {
      // A terminal has one output: merge stderr into stdout.
      const merged = new PassThrough();
      let open = 2;
      for (const s of [stdout, stderr]) {
        s.on("data", (c: Buffer) => merged.write(c));
        s.on("end", () => {
          if (--open === 0) merged.end();
        });
      }
      stdout = merged;
      stderr = undefined;
    }
    const exit = new Promise<RuntimeResult<number>>((resolve) => {
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => resolve(ok(code ?? 128 + (signal === "SIGKILL" ? 9 : 15)));
      if (child.exitCode !== null) resolve(ok(child.exitCode));
      else child.once("exit", onExit);
      this.killSwitches.push((message) => {
        child.off("exit", onExit);
        killGroup(child);
        resolve(fail("Unavailable", message));
      });
    });
    // Unwanted output is drained and dropped, as the runtime contract says.
    if (!opts.stdout) stdout?.resume();
    if (!opts.stderr || opts.tty) stderr?.resume();
    return {
      stdin: opts.stdin ? (child.stdin ?? undefined) : undefined,
      stdout: opts.stdout ? stdout : undefined,
      stderr: opts.stderr && !opts.tty ? stderr : undefined,
      resize: (width, height) => {
        this.resizes.push({ width, height });
      },
      close: () => {
        this.closedSessions.push(id);
        if (ownsProcess) killGroup(child);
      },
      exit,
    };
  }
}

/** SIGKILL to the child's process group (it was spawned detached, as its group leader). */
function killGroup(child: ChildProcess): void {
  if (child.pid !== undefined) killPid(-child.pid);
}

/** SIGKILL to `pid` (negative: a process group), ignoring one that is gone. */
function killPid(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}
