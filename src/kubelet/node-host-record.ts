/**
 * What a real node put on its host, written by the node at start
 * (`<data-dir>/agent/node-host.json`) so `skiff uninstall` can take it all
 * away later without being told the flags and KubeletConfiguration the
 * node ran with: its bridge, sandbox netns prefix, cgroup root, CNI plugin
 * dirs and the cluster's ranges (for the safety routes).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** The node's host-level names, as recorded at its last start. */
export interface NodeHostRecord {
  readonly nodeName: string;
  readonly bridgeName: string;
  readonly netnsPrefix: string;
  readonly cgroupRoot: string;
  readonly cniBinDirs: readonly string[];
  readonly clusterCidr: string;
  readonly serviceCidr: string;
}

/** Where the record lives in a data dir. */
export function nodeHostRecordPath(dataDir: string): string {
  return join(dataDir, "agent", "node-host.json");
}

/** Writes (replaces) the record. */
export function writeNodeHostRecord(dataDir: string, record: NodeHostRecord): void {
  const file = nodeHostRecordPath(dataDir);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
}

function isStringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

/** The record, or undefined when the node never started here; throws on a file that is not a record. */
export function readNodeHostRecord(dataDir: string): NodeHostRecord | undefined {
  const file = nodeHostRecordPath(dataDir);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const v = JSON.parse(text) as Record<string, unknown>;
  const strings = ["nodeName", "bridgeName", "netnsPrefix", "cgroupRoot", "clusterCidr", "serviceCidr"] as const;
  for (const k of strings) if (typeof v[k] !== "string") throw new Error(`${file}: ${k} is missing or not a string`);
  if (!isStringList(v.cniBinDirs)) throw new Error(`${file}: cniBinDirs is not a list of paths`);
  return v as unknown as NodeHostRecord;
}
