import { homedir } from "node:os";
import { join } from "node:path";

/** `/var/lib/skiff` as root, `~/.local/share/skiff` otherwise (DESIGN.md §2). */
export function defaultDataDir(): string {
  if (process.getuid?.() === 0) return "/var/lib/skiff";
  const xdg = process.env.XDG_DATA_HOME;
  return xdg ? join(xdg, "skiff") : join(homedir(), ".local", "share", "skiff");
}
