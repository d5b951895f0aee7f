/**
 * `/healthz` as upstream's healthz handler: `ok` when every check passes,
 * otherwise 500 with one `[+]name ok` / `[-]name failed: reason withheld`
 * line per check; `/healthz/NAME` runs one check; `?verbose` lists them.
 * The kubelet registers ping, log and syncloop.
 */
import type { ServerResponse } from "node:http";
import { NOT_FOUND_TEXT, writeText } from "./http-text.js";

/** A named health check: resolves when healthy, throws or rejects when not. */
export type HealthCheck = () => void | Promise<void>;

/** Serves `/healthz[/name]`. */
export async function serveHealthz(res: ServerResponse, url: URL, checks: Readonly<Record<string, HealthCheck>>): Promise<void> {
  const only = /^\/healthz\/(.+?)\/?$/.exec(url.pathname)?.[1];
  const all: [string, HealthCheck][] = [["ping", () => {}], ["log", () => {}], ...Object.entries(checks)];
  const selected = only ? all.filter(([n]) => n === only) : all;
  if (selected.length === 0) return writeText(res, 404, NOT_FOUND_TEXT);
  const lines: string[] = [];
  let healthy = true;
  let firstError = "";
  for (const [name, check] of selected) {
    try {
      await check();
      lines.push(`[+]${name} ok`);
    } catch (err) {
      healthy = false;
      firstError ||= (err as Error)?.message ?? String(err);
      lines.push(`[-]${name} failed: reason withheld`);
    }
  }
  if (only) return writeText(res, healthy ? 200 : 500, healthy ? "ok" : `internal server error: ${firstError}\n`);
  const verbose = url.searchParams.has("verbose") || !healthy;
  writeText(res, healthy ? 200 : 500, verbose ? `${lines.join("\n")}\nhealthz check ${healthy ? "passed" : "failed"}\n` : "ok");
}
