/** Runs the skiff CLI from source, as `npx skiff` would run the build. */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const main = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

const testResolvConf = fileURLToPath(new URL("../fixtures/resolv.conf", import.meta.url));

/**
 * Flags every test server gets: any free port on loopback (the API, the
 * cluster DNS, the ingress controller), names outside the cluster resolved
 * nowhere, and never a write to the user's ~/.kube/config.
 */
export const TEST_SERVER_FLAGS = [
  "--https-port",
  "0",
  "--bind-address",
  "127.0.0.1",
  "--no-kubeconfig-merge",
  "--disable-agent",
  "--cluster-dns-port",
  "0",
  "--ingress-http-port",
  "0",
  "--ingress-https-port",
  "0",
  "--registry-port",
  "0",
  "--resolv-conf",
  testResolvConf,
];

/** Runs `skiff ARGS…` to completion. */
export function skiff(args: string[], env: NodeJS.ProcessEnv = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", main, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 120_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `skiff ARGS…` in the background; the caller stops it by PID. */
export function skiffBackground(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", main, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Resolves once `child`'s standard error has printed a line matching `re`. */
export function waitForLog(child: ChildProcess, re: RegExp, ms = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; output so far:\n${seen}`)), ms);
    const onData = (d: Buffer) => {
      seen += d.toString();
      const m = seen.split("\n").find((l) => re.test(l));
      if (m) {
        clearTimeout(timer);
        child.stderr?.off("data", onData);
        resolve(m);
      }
    };
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`process exited (${code}) before logging ${re}:\n${seen}`));
    });
  });
}

/** Stops `child` by PID with SIGTERM (SIGKILL after 10 s) and waits for it. */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  child.kill(signal);
  const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
  const code = await exited;
  clearTimeout(t);
  return code;
}
