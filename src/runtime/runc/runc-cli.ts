/**
 * The runc commands the runtime runs itself (conmon runs `runc create`):
 * start, kill, delete, state, version. Every call passes this runtime's
 * own `--root`, so several agents on one machine never see each other's
 * containers.
 */
import { type CommandResult, runCommand } from "./run-command.js";

/** `runc state` output (the fields used). */
export interface RuncState {
  readonly id: string;
  readonly pid: number;
  /** "creating" | "created" | "running" | "paused" | "stopped". */
  readonly status: string;
  readonly bundle: string;
}

/** runc bound to one `--root`. */
export class RuncCli {
  constructor(
    readonly runcPath: string,
    readonly root: string,
  ) {}

  private run(args: string[], timeoutMs = 60_000): Promise<CommandResult> {
    return runCommand(this.runcPath, ["--root", this.root, ...args], { timeoutMs });
  }

  start(id: string): Promise<CommandResult> {
    return this.run(["start", id]);
  }

  /** Sends `signal` (a name like "TERM"/"SIGTERM" or a number) to the container's init process. */
  kill(id: string, signal: string): Promise<CommandResult> {
    return this.run(["kill", id, signal]);
  }

  /** Deletes runc's record and the container's cgroup; `--force` kills it first when still running. */
  delete(id: string): Promise<CommandResult> {
    return this.run(["delete", "--force", id]);
  }

  async state(id: string): Promise<RuncState | undefined> {
    const r = await this.run(["state", id]);
    if (r.code !== 0) return undefined;
    try {
      return JSON.parse(r.stdout) as RuncState;
    } catch {
      return undefined;
    }
  }

  version(): Promise<CommandResult> {
    return runCommand(this.runcPath, ["--version"], { timeoutMs: 30_000 });
  }
}

/** True when runc's failure says the container is not there (any more). */
export function isNotExist(r: CommandResult): boolean {
  return /does not exist|not found|no such file/i.test(r.stderr);
}

/** The version number from `runc --version` ("runc version 1.1.5+ds1" → "1.1.5+ds1"). */
export function parseRuncVersion(stdout: string): string | undefined {
  return /^runc version (\S+)/m.exec(stdout)?.[1];
}
