/**
 * Golden files for output that differs between kubectl versions: one file per
 * distinct output, named `<subject>.<minor>.txt` after the oldest kubectl
 * (`1.27`, `1.30`, ...) that prints it. A kubectl version is compared with the
 * newest golden file not newer than itself, so a file covers every later
 * version until a later file takes over.
 *
 * `UPDATE_GOLDEN=1 npm test -- <file>` writes what a version printed when it
 * differs, as a new `<subject>.<version>.txt` (review the diff before keeping it).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const minor = (v: string): number => Number(v.split(".")[1]);

/** The golden file `version` of kubectl is compared with, if any. */
export function goldenFile(dir: string, subject: string, version: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  const prefix = `${subject}.`;
  const candidates = readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith(".txt"))
    .map((f) => f.slice(prefix.length, -".txt".length))
    .filter((v) => /^\d+\.\d+$/.test(v) && minor(v) <= minor(version))
    .sort((a, b) => minor(b) - minor(a));
  return candidates[0] ? join(dir, `${prefix}${candidates[0]}.txt`) : undefined;
}

/** Asserts `actual` is the golden output of `subject` for kubectl `version` (or records it under UPDATE_GOLDEN=1). */
export function assertGolden(dir: string, subject: string, version: string, actual: string): void {
  const file = goldenFile(dir, subject, version);
  const expected = file ? readFileSync(file, "utf8") : undefined;
  if (expected === actual) return;
  if (process.env.UPDATE_GOLDEN === "1") {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${subject}.${version}.txt`), actual);
    return;
  }
  assert.ok(file, `no golden file for ${subject} with kubectl ${version} in ${dir} (run with UPDATE_GOLDEN=1 to record one)`);
  assert.equal(actual, expected, `kubectl ${version}: ${subject} differs from ${file}`);
}
