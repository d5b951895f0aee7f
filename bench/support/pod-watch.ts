/**
 * A raw watch on one namespace's pods for the kubelet benchmark: records,
 * per pod name, when the watch first showed it in phase Running and when it
 * showed it deleted. Each line is parsed (a few seconds of CPU for
 * 30,000 pods): matching fields with regular expressions tied the
 * benchmark to the server's key order, which changed under it once. A
 * watch the server ends is reopened from the last
 * resourceVersion seen, so long phases are not cut short.
 */
import type { Client, Stream } from "./https-client.js";

export class PodWatch {
  /** performance.now() when each pod was first seen Running. */
  readonly runningAt = new Map<string, number>();
  /** performance.now() when each pod's DELETED event arrived. */
  readonly deletedAt = new Map<string, number>();
  /** Pods the watch shows as existing now. */
  readonly present = new Set<string>();
  private stream?: Stream;
  private closed = false;
  private lastRV = "0";
  private changed?: () => void;

  constructor(
    private readonly c: Client,
    private readonly ns: string,
    private readonly say: (msg: string) => void,
  ) {}

  /** Opens the watch (from resourceVersion 0: existing pods arrive as ADDED first). */
  async start(): Promise<void> {
    await this.open();
  }

  /** Opens the stream; once it is established, its end (or failure) reopens it. Rejects when it cannot be opened. */
  private async open(): Promise<void> {
    const path = `/api/v1/namespaces/${this.ns}/pods?watch=1&resourceVersion=${this.lastRV}&allowWatchBookmarks=true`;
    const stream = this.c.stream(path, (line) => this.onLine(line));
    this.stream = stream;
    const status = await stream.response;
    if (status !== 200) {
      stream.close();
      // 410 Gone: the version is compacted away; start over from the current state.
      if (status === 410) this.lastRV = "0";
      throw new Error(`watch ${path}: HTTP ${status}`);
    }
    void stream.done.then(
      () => this.reopen("ended"),
      (err: Error) => this.reopen(err.message),
    );
  }

  /** One reopen attempt now; failures retry every second until {@link close}. */
  private reopen(why: string): void {
    if (this.closed) return;
    this.say(`pod watch ${why}; reopening from resourceVersion ${this.lastRV}`);
    this.open().catch((err: Error) => {
      if (this.closed) return;
      this.say(`pod watch could not reopen: ${err.message}`);
      setTimeout(() => this.reopen("retry"), 1000);
    });
  }

  private onLine(line: string): void {
    // Parsed, not matched: the server's key order (name first in metadata, phase after spec) is not a contract.
    let ev: { type?: string; object?: { metadata?: { name?: string; resourceVersion?: string }; status?: { phase?: string } } };
    try {
      ev = JSON.parse(line) as typeof ev;
    } catch {
      return;
    }
    const type = ev.type;
    const rv = ev.object?.metadata?.resourceVersion;
    if (rv) this.lastRV = rv;
    if (type === "BOOKMARK" || type === "ERROR" || !type) return;
    const name = ev.object?.metadata?.name;
    if (!name) return;
    const now = performance.now();
    if (type === "DELETED") {
      this.present.delete(name);
      if (!this.deletedAt.has(name)) this.deletedAt.set(name, now);
    } else {
      this.present.add(name);
      if (!this.runningAt.has(name) && ev.object?.status?.phase === "Running") this.runningAt.set(name, now);
    }
    this.changed?.();
  }

  /**
   * Resolves once `done()` holds (checked on every event); rejects when
   * `progress()` has not moved for `stallMs`, or after `deadlineMs` in all,
   * naming `what`.
   */
  waitUntil(what: string, done: () => boolean, progress: () => number, stallMs: number, deadlineMs = Number.POSITIVE_INFINITY): Promise<void> {
    if (done()) return Promise.resolve();
    const deadline = performance.now() + deadlineMs;
    return new Promise((resolve, reject) => {
      let last = progress();
      let lastAt = performance.now();
      const finish = (err?: Error) => {
        clearInterval(timer);
        this.changed = undefined;
        if (err) reject(err);
        else resolve();
      };
      const timer = setInterval(() => {
        if (done()) return finish();
        const p = progress();
        if (p !== last) {
          last = p;
          lastAt = performance.now();
        } else if (performance.now() - lastAt > stallMs) {
          finish(new Error(`waiting for ${what}: no progress for ${stallMs / 1000}s (at ${p})`));
        }
        if (performance.now() > deadline) finish(new Error(`waiting for ${what}: not done after ${deadlineMs / 1000}s (at ${p})`));
      }, 250);
      this.changed = () => {
        if (done()) finish();
      };
    });
  }

  close(): void {
    this.closed = true;
    this.stream?.close();
  }
}
