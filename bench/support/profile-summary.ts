/**
 * Where a `--cpu-prof` profile spent its time: self time by function and by
 * source file, and total (inclusive) time of skiff's own functions, for
 * reading a benchmark's server profile without DevTools.
 *
 *   node --import tsx bench/support/profile-summary.ts [--top N] [--from S --to S] FILE.cpuprofile…
 *
 * `--from`/`--to` keep only samples in that window, in seconds since the
 * profile started (e.g. one benchmark phase).
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "25" }, from: { type: "string" }, to: { type: "string" } },
});
const top = Number(values.top);
// Piped into head: a closed pipe ends the report, not with a stack trace.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});
const from = values.from !== undefined ? Number(values.from) * 1e6 : -Infinity;
const to = values.to !== undefined ? Number(values.to) * 1e6 : Infinity;

const shortUrl = (url: string) => url.replace(/^file:\/\//, "").replace(/^.*\/(src|node_modules)\//, "$1/");
const frameName = (f: CallFrame) => `${f.functionName || "(anonymous)"} ${shortUrl(f.url) || "(native)"}:${f.lineNumber + 1}`;

function table(title: string, m: Map<string, number>, totalUs: number): void {
  process.stdout.write(`\n${title}\n`);
  for (const [k, us] of [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${(us / 1000).toFixed(0).padStart(8)} ms ${((100 * us) / totalUs).toFixed(1).padStart(5)}%  ${k}\n`);
  }
}

for (const file of positionals) {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let t = 0;
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (t < from || t > to) continue;
    const dt = p.timeDeltas[i + 1] ?? 0;
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + dt);
    total += dt;
  }
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    byFunction.set(frameName(f), (byFunction.get(frameName(f)) ?? 0) + us);
    const fileKey = shortUrl(f.url) || `(${f.functionName || "native"})`;
    byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + us);
    // Inclusive time of skiff's own functions: each counted once per sample however deep the recursion.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur)!.callFrame;
      if (!cf.url.includes("/src/")) continue;
      const k = frameName(cf);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  }
  const idle = byFunction.get("(idle) (native):0") ?? 0;
  process.stdout.write(`\n=== ${file}: ${(total / 1e6).toFixed(1)} s sampled, ${((total - idle) / 1e6).toFixed(1)} s busy\n`);
  table("self time by function", byFunction, total);
  table("self time by file", byFile, total);
  table("inclusive time of skiff functions", inclusive, total);
}
