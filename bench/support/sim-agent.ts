/**
 * `skiff agent --runtime sim --simulate-nodes N` as a child process of a
 * benchmark: joined with the server's token (`<data-dir>/token`), stopped
 * by PID (SIGTERM, or SIGKILL to play a node failure). Its standard error
 * is drained (a full pipe would stall it) and its tail kept for errors.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const cliMain = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

/** Options of {@link startSimAgent}. */
export interface SimAgentOptions {
  /** The server's data dir: its join token is read from `<serverDataDir>/token`. */
  readonly serverDataDir: string;
  readonly serverPort: number;
  /** Node names are `<nodeName>-0` … `<nodeName>-(nodes-1)`. */
  readonly nodeName: string;
  readonly nodes: number;
  /** The agent's own state directory. */
  readonly dataDir: string;
  /** A KubeletConfiguration file (timings, maxPods). */
  readonly kubeletConfig?: string;
  /** A built `dist/src/cli/main.js` instead of the sources. */
  readonly main?: string;
  /** Node.js flags of the agent process (e.g. `--cpu-prof`). */
  readonly nodeArgs?: readonly string[];
  /** Appends the agent's standard error here too. */
  readonly logFile?: string;
  readonly timeoutMs?: number;
}

/** A running agent process. */
export interface SimAgent {
  readonly pid: number;
  readonly process: ChildProcess;
  /** The last lines the agent wrote to standard error. */
  tail(): string;
  /** SIGTERM (SIGKILL after 15 s); resolves once it exited. */
  stop(): Promise<void>;
  /** SIGKILL at once, as a machine that loses power; resolves once it exited. */
  kill(): Promise<void>;
}

/** Starts the agent and resolves once every node is registered. */
export async function startSimAgent(o: SimAgentOptions): Promise<SimAgent> {
  const token = readFileSync(join(o.serverDataDir, "token"), "utf8").trim();
  const script = o.main ?? cliMain;
  const loader = script.endsWith(".ts") ? ["--import", "tsx"] : [];
  const args = [
    "agent",
    "--server",
    `https://127.0.0.1:${o.serverPort}`,
    "--token",
    token,
    "--runtime",
    "sim",
    "--simulate-nodes",
    String(o.nodes),
    "--node-name",
    o.nodeName,
    "--data-dir",
    o.dataDir,
    ...(o.kubeletConfig ? ["--kubelet-config", o.kubeletConfig] : []),
  ];
  const proc = spawn(process.execPath, [...(o.nodeArgs ?? []), ...loader, script, ...args], { cwd: repoRoot, env: process.env, stdio: ["ignore", "pipe", "pipe"] });
  const log = o.logFile ? createWriteStream(o.logFile, { flags: "a" }) : undefined;
  const lines: string[] = [];
  let partial = "";
  let registered: (() => void) | undefined;
  proc.stdout!.on("data", (d: Buffer) => log?.write(d));
  proc.stderr!.setEncoding("utf8");
  proc.stderr!.on("data", (d: string) => {
    log?.write(d);
    partial += d;
    const parts = partial.split("\n");
    partial = parts.pop()!;
    for (const l of parts) {
      lines.push(l);
      if (lines.length > 60) lines.shift();
      if (/msg="nodes registered"/.test(l)) registered?.();
    }
  });
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  proc.once("exit", () => log?.end());
  const gone = () => proc.exitCode !== null || proc.signalCode !== null;
  const agent: SimAgent = {
    pid: proc.pid!,
    process: proc,
    tail: () => lines.join("\n"),
    async stop() {
      if (gone()) return;
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(t);
    },
    async kill() {
      if (gone()) return;
      proc.kill("SIGKILL");
      await exited;
    },
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`agent ${o.nodeName}: nodes not registered in ${(o.timeoutMs ?? 120_000) / 1000}s:\n${agent.tail()}`)), o.timeoutMs ?? 120_000);
      registered = () => {
        clearTimeout(timer);
        resolve();
      };
      proc.once("exit", (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`agent ${o.nodeName} exited (${code ?? sig}) before its nodes registered:\n${agent.tail()}`));
      });
    });
  } catch (err) {
    await agent.stop();
    throw err;
  }
  return agent;
}
