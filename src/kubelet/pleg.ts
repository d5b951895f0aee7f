/**
 * The pod lifecycle event generator: tells pod workers when the runtime
 * changed something of theirs. Runtime events (CRI container events) give
 * the news at once; a periodic relist (plegRelistPeriod, 1 s, as upstream's
 * generic PLEG) compares container states with the last relist and catches
 * anything an event missed.
 */
import type { Timers } from "../client/timers.js";
import type { Logger } from "../machinery/log.js";
import type { ContainerRuntime, ContainerState } from "../runtime/types.js";
import { POD_UID_LABEL } from "./runtime-labels.js";

/** Options of a {@link Pleg}. */
export interface PlegOptions {
  readonly runtime: ContainerRuntime;
  readonly relistPeriodMs: number;
  readonly timers: Timers;
  readonly logger: Logger;
  /** Called with the UID of a pod whose containers changed. */
  readonly onPodChanged: (uid: string) => void;
}

/** One node's PLEG. */
export class Pleg {
  private unsubscribe: (() => void) | undefined;
  private cancel: (() => void) | undefined;
  private last = new Map<string, { uid: string; state: ContainerState }>();
  private stopped = true;

  constructor(private readonly o: PlegOptions) {}

  start(): void {
    this.stopped = false;
    this.unsubscribe = this.o.runtime.subscribe((ev) => {
      const uid = ev.sandboxLabels[POD_UID_LABEL];
      if (uid) this.o.onPodChanged(uid);
    });
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.cancel?.();
  }

  /** One relist: pods whose containers appeared, vanished or changed state are reported. */
  async relist(): Promise<void> {
    const list = await this.o.runtime.listContainers();
    if (!list.ok) {
      this.o.logger.warn("PLEG relist failed", { err: list.error.message });
      return;
    }
    const now = new Map<string, { uid: string; state: ContainerState }>();
    const changed = new Set<string>();
    for (const c of list.value) {
      const uid = c.labels[POD_UID_LABEL];
      if (!uid) continue;
      now.set(c.id, { uid, state: c.state });
      if (this.last.get(c.id)?.state !== c.state) changed.add(uid);
    }
    for (const [id, old] of this.last) if (!now.has(id)) changed.add(old.uid);
    this.last = now;
    for (const uid of changed) this.o.onPodChanged(uid);
  }

  private schedule(): void {
    if (this.stopped || this.o.relistPeriodMs <= 0) return;
    this.cancel = this.o.timers.after(this.o.relistPeriodMs, () => {
      void this.relist().finally(() => this.schedule());
    });
  }
}
