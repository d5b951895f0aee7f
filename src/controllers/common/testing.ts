/**
 * Test doubles of the shared controller helpers (upstream's
 * `FakePodControl`), for the unit tests of any workload controller.
 */
import type { PodTemplateSpec } from "kubernetes-types/core/v1.js";
import type { OwnerReference } from "kubernetes-types/meta/v1.js";
import type { EventSubject } from "../../client/event-recorder.js";
import { SharedInformer } from "../../client/informer.js";
import type { KubeList, KubeObject, ListerWatcher } from "../../client/resource-client.js";
import { objectKey } from "../../client/store.js";
import type { WatchEvent } from "../../client/watch.js";
import type { PodControl } from "./pod-control.js";

/** One pod create a {@link FakePodControl} was asked for. */
export interface FakeCreate {
  readonly namespace: string;
  readonly template: PodTemplateSpec | undefined;
  readonly controllerRef: OwnerReference;
  readonly generateName?: string;
}

/** Records what was asked; fails with `err` when set; fails create calls beyond `createLimit` when set. */
export class FakePodControl implements PodControl {
  readonly creates: FakeCreate[] = [];
  readonly deletes: string[] = [];
  readonly patches: { namespace: string; name: string; patch: unknown }[] = [];
  createCallCount = 0;
  err: Error | undefined;
  createLimit = 0;

  async createPods(namespace: string, template: PodTemplateSpec | undefined, _owner: EventSubject, controllerRef: OwnerReference): Promise<void> {
    this.recordCreate({ namespace, template, controllerRef });
  }

  async createPodsWithGenerateName(
    namespace: string,
    template: PodTemplateSpec | undefined,
    _owner: EventSubject,
    controllerRef: OwnerReference,
    generateName: string,
  ): Promise<void> {
    this.recordCreate({ namespace, template, controllerRef, generateName });
  }

  private recordCreate(create: FakeCreate): void {
    // As upstream's fake: calls beyond the limit fail unrecorded; with `err` set, a call is recorded, then fails.
    this.createCallCount++;
    if (this.createLimit > 0 && this.createCallCount > this.createLimit) {
      throw new Error(`not creating pod, limit ${this.createLimit} already reached (create call ${this.createCallCount})`);
    }
    this.creates.push(create);
    if (this.err) throw this.err;
  }

  async deletePod(namespace: string, name: string): Promise<void> {
    this.deletes.push(`${namespace}/${name}`);
    if (this.err) throw this.err;
  }

  async patchPod(namespace: string, name: string, patch: unknown): Promise<void> {
    this.patches.push({ namespace, name, patch });
    if (this.err) throw this.err;
  }

  /** Forgets what was recorded (not `err` or `createLimit`). */
  clear(): void {
    this.creates.length = 0;
    this.deletes.length = 0;
    this.patches.length = 0;
    this.createCallCount = 0;
  }
}

/**
 * An in-memory ListerWatcher a test changes directly: `set` and `remove`
 * reach a running informer as watch events, in order.
 */
export class FakeListerWatcher<T extends KubeObject> implements ListerWatcher<T> {
  private readonly objects = new Map<string, T>();
  private rv = 0;
  private readonly watchers = new Set<(ev: WatchEvent<T>) => void>();

  constructor(initial: readonly T[] = []) {
    for (const o of initial) this.objects.set(objectKey(o), this.stamp(o));
  }

  private stamp(o: T): T {
    return { ...o, metadata: { ...o.metadata, resourceVersion: String(++this.rv) } };
  }

  /** Adds or replaces `obj` (with a new resourceVersion); returns the stored object. */
  set(obj: T): T {
    const key = objectKey(obj);
    const stored = this.stamp(obj);
    const existed = this.objects.has(key);
    this.objects.set(key, stored);
    this.emit({ type: existed ? "MODIFIED" : "ADDED", object: stored });
    return stored;
  }

  /** Deletes the object with `key` (`ns/name`). */
  remove(key: string): void {
    const old = this.objects.get(key);
    if (!old) return;
    this.objects.delete(key);
    this.emit({ type: "DELETED", object: this.stamp(old) });
  }

  /** The stored object with `key`. */
  get(key: string): T | undefined {
    return this.objects.get(key);
  }

  private emit(ev: WatchEvent<T>): void {
    for (const w of this.watchers) w(ev);
  }

  async list(): Promise<KubeList<T>> {
    return { metadata: { resourceVersion: String(this.rv) }, items: [...this.objects.values()] };
  }

  async *watch(_opts: unknown, signal?: AbortSignal): AsyncGenerator<WatchEvent<T>> {
    const queue: WatchEvent<T>[] = [];
    let wake: (() => void) | undefined;
    const push = (ev: WatchEvent<T>) => {
      queue.push(ev);
      wake?.();
    };
    const onAbort = () => wake?.();
    this.watchers.add(push);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      while (!signal?.aborted) {
        while (queue.length > 0) yield queue.shift()!;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    } finally {
      this.watchers.delete(push);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}

/** A running informer over `source`, synced; stops when `signal` aborts. */
export async function runningInformer<T extends KubeObject>(source: ListerWatcher<T>, signal: AbortSignal): Promise<SharedInformer<T>> {
  const informer = new SharedInformer<T>({ source });
  void informer.run(signal);
  await informer.waitForSync(signal);
  return informer;
}

/** Resolves after pending watch events have reached the informers (a few event-loop turns). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}
