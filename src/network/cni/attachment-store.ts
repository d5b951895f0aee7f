/**
 * Sandbox network records on disk (`<stateDir>/sandboxes/<id>.json`), the
 * equivalent of libcni's result cache: what ADD was run with and what it
 * returned, so DEL after an agent restart uses the same config and the
 * cached result. A record is written *before* ADD (without a result) so a
 * crash half-way still leaves something that says what to undo.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../machinery/atomic-file.js";
import type { CniConfList, CniPortMapping } from "./conflist.js";

/** One sandbox's network as recorded. */
export interface AttachmentRecord {
  readonly version: 1;
  readonly sandboxId: string;
  readonly netnsName: string;
  readonly netnsPath: string;
  readonly ifName: string;
  /** CNI_ARGS used for ADD (and so for DEL and CHECK). */
  readonly cniArgs: string;
  /** The conflist ADD ran (DEL and CHECK run the same one). */
  readonly confList: CniConfList;
  readonly portMappings: readonly CniPortMapping[];
  /** The chain's ADD result; absent while ADD has not completed. */
  readonly result?: unknown;
  /** Pod IPs from `result`, primary first. */
  readonly ips?: readonly string[];
}

/** Reads and writes records under one directory. */
export class AttachmentStore {
  readonly #dir: string;

  constructor(stateDir: string) {
    this.#dir = join(stateDir, "sandboxes");
  }

  #path(sandboxId: string): string {
    return join(this.#dir, `${sandboxId}.json`);
  }

  /** The record of `sandboxId`; undefined when there is none or it is unreadable. */
  load(sandboxId: string): AttachmentRecord | undefined {
    let text: string;
    try {
      text = readFileSync(this.#path(sandboxId), "utf8");
    } catch {
      return undefined;
    }
    try {
      const rec = JSON.parse(text) as AttachmentRecord;
      return rec.version === 1 && rec.sandboxId === sandboxId ? rec : undefined;
    } catch {
      return undefined;
    }
  }

  /** Writes `rec` atomically (a crash leaves the old or the new record, never half of one). */
  save(rec: AttachmentRecord): void {
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    writeFileAtomic(this.#path(rec.sandboxId), JSON.stringify(rec, null, 2), { mode: 0o600 });
  }

  remove(sandboxId: string): void {
    rmSync(this.#path(sandboxId), { force: true });
  }

  /** Ids of every recorded sandbox. */
  list(): string[] {
    try {
      return readdirSync(this.#dir)
        .filter((n) => n.endsWith(".json") && !n.startsWith("."))
        .map((n) => n.slice(0, -".json".length));
    } catch {
      return [];
    }
  }
}
