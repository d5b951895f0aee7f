/**
 * Installs missing host tools from Debian's packages, saying so, as the
 * Quick start promises. Only as root, and only when a tool is missing.
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** A command skiff needs and the Debian package that provides it. */
export interface HostTool {
  readonly command: string;
  readonly debianPackage: string;
  /** What needs it, for the message. */
  readonly neededFor: string;
  /** How to tell it is there when it is not a command on PATH (e.g. CNI plugins in their own directory). */
  readonly present?: () => boolean;
}

/** True when `command` is an executable on PATH. */
export function onPath(command: string): boolean {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // keep looking
    }
  }
  return false;
}

/**
 * Makes sure every tool is on PATH. Missing ones are installed with apt-get
 * when running as root (after saying which and why); otherwise this throws a
 * message naming the packages to install.
 */
export function ensureHostTools(tools: readonly HostTool[], say: (line: string) => void): void {
  const here = (t: HostTool) => (t.present ? t.present() : onPath(t.command));
  const missing = tools.filter((t) => !here(t));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((t) => t.debianPackage))];
  const why = missing.map((t) => `${t.command} (${t.neededFor})`).join(", ");
  if (process.getuid?.() !== 0) {
    throw new Error(`missing ${why}; install them with: sudo apt-get install -y ${pkgs.join(" ")}`);
  }
  say(`installing ${pkgs.join(" ")} from Debian's packages: missing ${why}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const update = spawnSync("apt-get", ["update", "-q"], { stdio: "inherit", env });
  const install = spawnSync("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...pkgs], { stdio: "inherit", env });
  if (update.status !== 0 || install.status !== 0) {
    throw new Error(`apt-get could not install ${pkgs.join(" ")}; install them by hand and try again`);
  }
  const still = missing.filter((t) => !here(t));
  if (still.length > 0) throw new Error(`installed ${pkgs.join(" ")} but ${still.map((t) => t.command).join(", ")} is still not on PATH`);
}
