/**
 * A real `skiff server` process for API tests, on a free loopback port with
 * its own data dir and kubeconfig, and the kubectl binaries to drive it.
 */
import { type ChildProcess, execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { skiffBackground, stopProcess, TEST_SERVER_FLAGS, waitForLog } from "./skiff.js";

export interface TestServer {
  readonly dataDir: string;
  readonly kubeconfig: string;
  readonly port: number;
  readonly process: ChildProcess;
  /** Runs kubectl (the machine's dispatcher, or `kubectl.1.NN` with `version`) against the server. */
  kubectl(args: string[], opts?: { version?: string; input?: string; env?: NodeJS.ProcessEnv }): { status: number; stdout: string; stderr: string };
  stop(): Promise<void>;
}

/** Directory holding kubectl and its versioned siblings `kubectl.1.27` … `kubectl.1.33`. */
export function kubectlDir(): string {
  const bin = execFileSync("bash", ["-c", 'readlink -f "$(command -v kubectl)"'], { encoding: "utf8" }).trim();
  return dirname(bin);
}

/** The versioned kubectl binaries present, as ["1.27", …]. */
export function kubectlVersions(): string[] {
  return readdirSync(kubectlDir())
    .map((f) => /^kubectl\.(\d+\.\d+)$/.exec(f)?.[1])
    .filter((v): v is string => !!v)
    .sort((a, b) => Number(a.split(".")[1]) - Number(b.split(".")[1]));
}

export async function startTestServer(extra: string[] = []): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "skiff-api-"));
  const proc = skiffBackground(["server", ...TEST_SERVER_FLAGS, "--data-dir", dataDir, "--disable-snapshots", ...extra]);
  let line: string;
  try {
    line = await waitForLog(proc, /msg="API server listening"/);
  } catch (err) {
    await stopProcess(proc);
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const port = Number(/port=(\d+)/.exec(line)![1]);
  const kubeconfig = join(dataDir, "kubeconfig.yaml");
  const dir = kubectlDir();
  return {
    dataDir,
    kubeconfig,
    port,
    process: proc,
    kubectl(args, opts = {}) {
      const bin = opts.version ? join(dir, `kubectl.${opts.version}`) : "kubectl";
      if (opts.version && !existsSync(bin)) throw new Error(`no ${bin}`);
      const r = spawnSync(bin, ["--kubeconfig", kubeconfig, ...args], {
        encoding: "utf8",
        input: opts.input,
        timeout: 60_000,
        env: { ...process.env, KUBECONFIG: kubeconfig, ...opts.env },
      });
      return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    },
    async stop() {
      await stopProcess(proc);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Asserts a command succeeded and returns its standard output. */
export function ok(r: { status: number; stdout: string; stderr: string }, what: string): string {
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}):\n${r.stderr}`);
  return r.stdout;
}
