/**
 * The last decided result of one probe type per container id (upstream
 * pkg/kubelet/prober/results): workers write it, the status computation
 * and the sync loop read it, and every change is reported so the kubelet
 * can act on it at once (a readiness change updates the pod's status, a
 * liveness failure restarts the container).
 */
import type { ProbeResult, ProbeType } from "./types.js";

/** A result that changed. */
export interface ResultUpdate {
  readonly type: ProbeType;
  /** Runtime container id (without the `scheme://`). */
  readonly containerId: string;
  readonly podUid: string;
  readonly result: ProbeResult;
}

/** Results of one probe type, by container id. */
export class ResultsManager {
  private readonly byId = new Map<string, { result: ProbeResult; podUid: string }>();

  constructor(
    readonly type: ProbeType,
    private readonly onUpdate: (u: ResultUpdate) => void,
  ) {}

  /** The cached result, undefined when none is cached. */
  get(containerId: string): ProbeResult | undefined {
    return this.byId.get(containerId)?.result;
  }

  /** Caches `result`; reports it when it differs from the cached one. */
  set(containerId: string, result: ProbeResult, podUid: string): void {
    const prev = this.byId.get(containerId);
    if (prev?.result === result) return;
    this.byId.set(containerId, { result, podUid });
    this.onUpdate({ type: this.type, containerId, podUid, result });
  }

  /** Forgets a container (its worker stopped, or it was replaced). */
  remove(containerId: string): void {
    this.byId.delete(containerId);
  }

  get size(): number {
    return this.byId.size;
  }
}
