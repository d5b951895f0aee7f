/**
 * Compiles skiff's sources (tsconfig.build.json) into a temporary directory,
 * so a benchmark can measure the process `npx skiff` runs (plain JavaScript)
 * rather than one carrying tsx's loader and its transform cache. The build
 * gets the repository's package.json (ESM, the version) and a link to its
 * node_modules, so bare imports resolve as they do in `dist/`.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Builds into `outDir` (which must be empty or missing) and returns the path
 * of its `src/cli/main.js`. Type errors elsewhere in a tree being worked on
 * do not stop the build (tsc still emits); a missing main.js does.
 */
export function buildSkiff(outDir: string): string {
  const tsc = join(repoRoot, "node_modules", ".bin", "tsc");
  const r = spawnSync(tsc, ["-p", join(repoRoot, "tsconfig.build.json"), "--outDir", outDir], { cwd: repoRoot, encoding: "utf8", timeout: 600_000 });
  const main = join(outDir, "src", "cli", "main.js");
  if (!existsSync(main)) throw new Error(`tsc -p tsconfig.build.json made no ${main} (exit ${r.status ?? r.signal}):\n${(r.stdout + r.stderr).slice(-3000)}`);
  copyFileSync(join(repoRoot, "package.json"), join(outDir, "package.json"));
  symlinkSync(join(repoRoot, "node_modules"), join(outDir, "node_modules"), "dir");
  return main;
}
