/**
 * Unpacked root filesystems, one per layer stack: `<root>/snapshots/<chain
 * id hex>`, built in a temporary directory beside it by applying the
 * layers in order (each checked against its diff id) and renamed into
 * place only when complete. See unpack.ts for why they are flattened.
 */
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../../machinery/log.js";
import { type ContentStore, removeStaleTemps, tempName } from "./content-store.js";
import { digestHex } from "./digest.js";
import { ImageError, throwIfAborted } from "./pull-error.js";
import { SharedWork } from "./shared-work.js";
import { applyLayer } from "./unpack.js";

export class SnapshotStore {
  readonly dir: string;
  private readonly unpacking = new SharedWork<string, string>();

  constructor(
    root: string,
    private readonly content: ContentStore,
    private readonly log: Logger,
  ) {
    this.dir = join(root, "snapshots");
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o711 });
    await removeStaleTemps(this.dir);
  }

  path(chainId: string): string {
    return join(this.dir, digestHex(chainId));
  }

  /** When the snapshot was last changed (ms), when present. */
  async mtime(chainId: string): Promise<number | undefined> {
    return (await stat(this.path(chainId)).catch(() => undefined))?.mtimeMs;
  }

  async exists(chainId: string): Promise<boolean> {
    return (await stat(this.path(chainId)).catch(() => undefined))?.isDirectory() === true;
  }

  /** Chain ids being unpacked now by this process (never removed by GC). */
  busy(): string[] {
    return this.unpacking.keys();
  }

  /** Makes sure the root filesystem of `layers` exists; resolves with its directory. */
  ensure(chainId: string, layers: readonly string[], diffIds: readonly string[], signal?: AbortSignal): Promise<string> {
    return this.unpacking.run(chainId, (sig) => this.unpack(chainId, layers, diffIds, sig), signal);
  }

  private async unpack(chainId: string, layers: readonly string[], diffIds: readonly string[], signal: AbortSignal): Promise<string> {
    const final = this.path(chainId);
    if (await this.exists(chainId)) return final;
    const tmp = join(this.dir, tempName(`.unpack-${digestHex(chainId).slice(0, 12)}`));
    await mkdir(tmp, { mode: 0o755 });
    try {
      for (let i = 0; i < layers.length; i++) {
        throwIfAborted(signal);
        const input = this.content.open(layers[i]!);
        const applied = await applyLayer({ root: tmp, input, log: this.log.with({ layer: layers[i]! }), signal }).catch((err: unknown) => {
          input.destroy();
          if (err instanceof ImageError) throw err.wrap(`failed to extract layer ${layers[i]}`);
          throw err;
        });
        if (applied.diffId !== diffIds[i]) {
          throw new ImageError(
            "FailedPrecondition",
            `failed to extract layer ${layers[i]}: unexpected diff id ${applied.diffId}, expected ${diffIds[i]}: failed precondition`,
          );
        }
      }
      try {
        await rename(tmp, final);
      } catch (err) {
        // Another process finished the same stack first.
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== "ENOTEMPTY" && code !== "EEXIST") throw err;
        await rm(tmp, { recursive: true, force: true });
      }
      return final;
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  async remove(chainId: string): Promise<void> {
    await rm(this.path(chainId), { recursive: true, force: true });
  }

  /** Chain ids of every finished snapshot. */
  async list(): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }
}
