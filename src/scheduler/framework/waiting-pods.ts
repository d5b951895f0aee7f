/**
 * Pods held at Permit (runtime/waiting_pods_map.go): each waits until every
 * plugin that asked it to wait allows it, one rejects it, or a plugin's
 * timeout fires (a rejection "rejected due to timeout after waiting 10s at
 * plugin X").
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import { goDuration } from "./go-format.js";
import { Code, Status } from "./status.js";
import type { Timers } from "./timers.js";
import type { WaitingPod } from "./types.js";

export class WaitingPodImpl implements WaitingPod {
  private readonly pendingPlugins = new Map<string, unknown>();
  private result: Status | null | undefined;
  private resolve: ((s: Status | null) => void) | undefined;
  /** Resolves with null (allowed) or the rejecting Status. */
  readonly done: Promise<Status | null>;

  constructor(
    private readonly pod: Pod,
    pluginsMaxWaitMs: ReadonlyMap<string, number>,
    private readonly timers: Timers,
  ) {
    this.done = new Promise((r) => {
      this.resolve = r;
    });
    for (const [plugin, waitMs] of pluginsMaxWaitMs) {
      const handle = timers.setTimeout(() => this.reject(plugin, `rejected due to timeout after waiting ${goDuration(waitMs)} at plugin ${plugin}`), waitMs);
      this.pendingPlugins.set(plugin, handle);
    }
  }

  getPod(): Pod {
    return this.pod;
  }

  getPendingPlugins(): string[] {
    return [...this.pendingPlugins.keys()];
  }

  private signal(s: Status | null): void {
    // Only the first outcome counts, as upstream's buffered channel of one.
    if (this.result !== undefined) return;
    this.result = s;
    this.resolve?.(s);
  }

  allow(pluginName: string): void {
    const handle = this.pendingPlugins.get(pluginName);
    if (handle !== undefined) {
      this.timers.clearTimeout(handle);
      this.pendingPlugins.delete(pluginName);
    }
    if (this.pendingPlugins.size !== 0) return;
    this.signal(null);
  }

  reject(pluginName: string, msg: string): void {
    for (const handle of this.pendingPlugins.values()) this.timers.clearTimeout(handle);
    this.signal(Status.of(Code.Unschedulable, msg).withPlugin(pluginName));
  }
}

/** waitingPodsMap, keyed by pod UID. */
export class WaitingPodsMap {
  private readonly pods = new Map<string, WaitingPodImpl>();

  add(uid: string, wp: WaitingPodImpl): void {
    this.pods.set(uid, wp);
  }

  remove(uid: string): void {
    this.pods.delete(uid);
  }

  get(uid: string): WaitingPodImpl | undefined {
    return this.pods.get(uid);
  }

  iterate(cb: (wp: WaitingPod) => void): void {
    for (const wp of this.pods.values()) cb(wp);
  }
}
