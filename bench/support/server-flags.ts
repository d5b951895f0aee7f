/**
 * What the `skiff server` a benchmark runs supports, asked of the server
 * itself: its `--help` for flags, and the controller manager's registry
 * (`CONTROLLERS`) for controllers, so a phase that needs a missing part is
 * reported as skipped with the reason rather than failing or waiting.
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const cliMain = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

export interface ServerSupport {
  /** The flags `skiff server --help` lists (`--node-monitor-grace-period`, …). */
  readonly flags: ReadonlySet<string>;
  /** The controller manager registers `nodelifecycle`. */
  readonly nodeLifecycle: boolean;
}

/** Asks the sources (or the built `main`, a dist/src/cli/main.js) what they support. */
export async function serverSupports(main?: string): Promise<ServerSupport> {
  const script = main ?? cliMain;
  const loader = script.endsWith(".ts") ? ["--import", "tsx"] : [];
  const help = spawnSync(process.execPath, [...loader, script, "server", "--help"], { cwd: repoRoot, encoding: "utf8", timeout: 60_000 });
  if (help.status !== 0) throw new Error(`skiff server --help failed (${help.status ?? help.signal}): ${help.stderr}`);
  // The manager module sits beside the CLI in both layouts: src/cli/main.ts → src/controllers/manager.ts.
  const ext = script.endsWith(".ts") ? "ts" : "js";
  const manager = join(dirname(dirname(script)), "controllers", `manager.${ext}`);
  const { CONTROLLERS } = (await import(pathToFileURL(manager).href)) as { CONTROLLERS: Record<string, unknown> };
  const flags = new Set([...help.stdout.matchAll(/(?:^|\s)(--[a-z0-9-]+)/g)].map((m) => m[1]!));
  return { flags, nodeLifecycle: "nodelifecycle" in CONTROLLERS };
}
