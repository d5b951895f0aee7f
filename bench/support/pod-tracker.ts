/**
 * Follows one namespace's pods through a watch and remembers, per pod uid,
 * when the benchmark first saw it created, Ready, terminating (a
 * deletionTimestamp) and gone. Counters keep the arrival time of each
 * such event in order, so "when did the N-th pod become Ready" is one
 * array read. A watch that ends is resumed from its last resourceVersion.
 */
import type { Client, Stream } from "./https-client.js";

interface PodRecord {
  readonly name: string;
  readonly addedAt: number;
  readyAt?: number;
  deletingAt?: number;
  deletedAt?: number;
  nodeName?: string;
  /** Ready now and not being deleted. */
  live?: boolean;
}

interface WatchPod {
  metadata?: { name?: string; uid?: string; resourceVersion?: string; deletionTimestamp?: string };
  spec?: { nodeName?: string };
  status?: { conditions?: { type?: string; status?: string }[] };
}

/** What {@link PodTracker.waitFor} waits for. */
export type Milestone = "added" | "ready" | "deleting" | "deleted";

export class PodTracker {
  readonly pods = new Map<string, PodRecord>();
  /** performance.now() of each first sighting, in arrival order. */
  readonly times: Record<Milestone, number[]> = { added: [], ready: [], deleting: [], deleted: [] };
  /** Pods Ready now and not being deleted (a pod can lose Ready, e.g. on a node found dead). */
  liveReady = 0;
  private stream?: Stream;
  private resourceVersion = "0";
  private closed = false;
  private failure?: Error;
  private wake?: () => void;

  constructor(
    private readonly c: Client,
    private readonly ns: string,
    private readonly say: (msg: string) => void = () => {},
  ) {}

  /** Opens the watch; resolves once the server answered. */
  async start(): Promise<void> {
    const path = `/api/v1/namespaces/${this.ns}/pods?watch=1&resourceVersion=${this.resourceVersion}&allowWatchBookmarks=true`;
    const stream = this.c.stream(path, (line) => this.onLine(line));
    this.stream = stream;
    stream.done.then(
      () => this.resume("ended"),
      (err: Error) => this.resume(err.message),
    );
    const status = await stream.response;
    if (status !== 200) throw new Error(`watch pods in ${this.ns}: HTTP ${status}`);
  }

  private resume(why: string): void {
    if (this.closed) return;
    this.say(`pod watch in ${this.ns} ${why}; resuming from resourceVersion ${this.resourceVersion}`);
    this.start().catch((err: Error) => this.fail(new Error(`resuming the pod watch in ${this.ns}: ${err.message}`)));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wake?.();
  }

  private onLine(line: string): void {
    const now = performance.now();
    let ev: { type?: string; object?: WatchPod & { code?: number; message?: string } };
    try {
      ev = JSON.parse(line);
    } catch {
      this.fail(new Error(`pod watch in ${this.ns}: not JSON: ${line.slice(0, 200)}`));
      return;
    }
    const obj = ev.object ?? {};
    if (ev.type === "ERROR") {
      this.fail(new Error(`pod watch in ${this.ns}: ${obj.code ?? ""} ${obj.message ?? JSON.stringify(obj)}`));
      return;
    }
    if (obj.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
    if (ev.type === "BOOKMARK") return;
    const uid = obj.metadata?.uid;
    if (!uid) return;
    let rec = this.pods.get(uid);
    if (!rec) {
      rec = { name: obj.metadata?.name ?? "", addedAt: now };
      this.pods.set(uid, rec);
      this.times.added.push(now);
    }
    if (obj.spec?.nodeName) rec.nodeName = obj.spec.nodeName;
    const ready = !!obj.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
    if (rec.readyAt === undefined && ready) {
      rec.readyAt = now;
      this.times.ready.push(now);
    }
    const live = ready && !obj.metadata?.deletionTimestamp && ev.type !== "DELETED";
    if (live !== !!rec.live) {
      rec.live = live;
      this.liveReady += live ? 1 : -1;
    }
    if (rec.deletingAt === undefined && (obj.metadata?.deletionTimestamp || ev.type === "DELETED")) {
      rec.deletingAt = now;
      this.times.deleting.push(now);
    }
    if (ev.type === "DELETED" && rec.deletedAt === undefined) {
      rec.deletedAt = now;
      this.times.deleted.push(now);
    }
    this.wake?.();
  }

  /** How many pods reached `m` so far. */
  count(m: Milestone): number {
    return this.times[m].length;
  }

  /**
   * Resolves with the time the `n`-th pod (counting from the start) reached
   * `m`; rejects when the watch failed or nothing moved for `stallMs`.
   */
  async waitFor(m: Milestone, n: number, stallMs = 120_000): Promise<number> {
    const list = this.times[m];
    await this.waitUntil(`pods ${m}`, () => list.length, n, stallMs);
    return list[n - 1]!;
  }

  /**
   * Resolves true once {@link liveReady} is at least `n`, false when
   * `deadlineMs` passed first (pods can keep losing Ready, e.g. while their
   * nodes look dead); rejects as {@link waitFor}.
   */
  waitForLiveReady(n: number, deadlineMs: number, stallMs = 120_000): Promise<boolean> {
    return this.waitUntil("pods Ready now", () => this.liveReady, n, stallMs, performance.now() + deadlineMs);
  }

  private async waitUntil(what: string, value: () => number, n: number, stallMs: number, deadline = Number.POSITIVE_INFINITY): Promise<boolean> {
    let last = value();
    let lastAt = performance.now();
    let saidAt = lastAt;
    while (value() < n) {
      if (this.failure) throw this.failure;
      if (performance.now() > deadline) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
      const v = value();
      if (performance.now() - saidAt >= 10_000) {
        saidAt = performance.now();
        this.say(`${this.ns}: ${v}/${n} ${what}`);
      }
      if (v !== last) {
        last = v;
        lastAt = performance.now();
      } else if (performance.now() - lastAt > stallMs) {
        throw new Error(`${this.ns}: only ${v}/${n} ${what}; nothing for ${stallMs / 1000}s`);
      }
    }
    if (this.failure) throw this.failure;
    return true;
  }

  close(): void {
    this.closed = true;
    this.stream?.close();
  }
}
