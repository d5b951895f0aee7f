/**
 * Registers the kubelet's Node and keeps its status current, as upstream's
 * registerWithAPIServer and updateNodeStatus: the status is computed every
 * nodeStatusUpdateFrequency (10 s) and written (a merge patch of
 * nodes/status) only when something other than heartbeat times changed, or
 * once nodeStatusReportFrequency (5 min) passed since the last write — the
 * Lease is the frequent heartbeat. A deleted Node is registered again.
 */
import type { Node, NodeStatus } from "kubernetes-types/core/v1.js";
import type { ResourceClient } from "../../client/resource-client.js";
import type { Timers } from "../../client/timers.js";
import type { Logger } from "../../machinery/log.js";
import { isAlreadyExists, isNotFound } from "../../machinery/status-error.js";
import { type KubeletEvents, nodeRef } from "../events.js";
import type { Limiter } from "../limiter.js";
import { buildNodeStatus, initialNode, type NodeFacts, nodeStatusChanged } from "./node-status.js";

/** Options of a {@link NodeStatusUpdater}. */
export interface NodeStatusUpdaterOptions {
  readonly nodeName: string;
  readonly nodes: ResourceClient<Node>;
  /** What the node looks like now (runtime readiness, images, …). */
  readonly facts: () => Promise<NodeFacts>;
  readonly updateFrequencyMs: number;
  readonly reportFrequencyMs: number;
  readonly timers: Timers;
  readonly logger: Logger;
  readonly events: KubeletEvents;
  readonly limiter: Limiter;
  /** Labels added at registration (e.g. node-role, type=skiff-sim). */
  readonly extraLabels?: Readonly<Record<string, string>>;
  /** Delay of the first update after registration (spreads simulated nodes). */
  readonly initialDelayMs?: number;
}

const CONDITION_EVENTS: Record<string, Record<string, string>> = {
  MemoryPressure: { False: "NodeHasSufficientMemory", True: "NodeHasInsufficientMemory" },
  DiskPressure: { False: "NodeHasNoDiskPressure", True: "NodeHasDiskPressure" },
  PIDPressure: { False: "NodeHasSufficientPID", True: "NodeHasInsufficientPID" },
  Ready: { True: "NodeReady", False: "NodeNotReady" },
};

/** One node's registration and status loop. */
export class NodeStatusUpdater {
  private node: Node | undefined;
  private lastReported: NodeStatus | undefined;
  private lastReportAt = 0;
  private cancel: (() => void) | undefined;
  private stopped = true;
  private registering: Promise<void> | undefined;

  constructor(private readonly o: NodeStatusUpdaterOptions) {}

  /** The registered Node's UID (undefined until registered). */
  get nodeUid(): string | undefined {
    return this.node?.metadata?.uid;
  }

  /** True once the Node exists in the API. */
  get registered(): boolean {
    return this.node !== undefined;
  }

  /** Registers (retrying until it succeeds or {@link stop}), then runs the status loop. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.register();
    this.schedule(this.o.initialDelayMs ?? this.o.updateFrequencyMs);
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
  }

  /** The Node was deleted from the API: register it again. */
  nodeDeleted(): void {
    if (this.stopped) return;
    this.node = undefined;
    this.lastReported = undefined;
    void this.register();
  }

  /** Registers the Node (upstream tryRegisterWithAPIServer), retrying with back-off. */
  register(): Promise<void> {
    this.registering ??= (async () => {
      let delay = 100;
      while (!this.stopped && !this.node) {
        try {
          const facts = await this.o.facts();
          const wanted = initialNode(facts, this.o.timers.now(), this.o.extraLabels);
          try {
            this.node = await this.o.limiter.run(() => this.o.nodes.create(wanted), "heartbeat");
            this.emitTransitions(undefined, this.node.status);
          } catch (err) {
            if (!isAlreadyExists(err)) throw err;
            // Our Node from an earlier run: take it over, as upstream does.
            this.node = await this.o.limiter.run(() => this.o.nodes.get(this.o.nodeName), "heartbeat");
            await this.report(facts, true);
          }
          this.lastReported ??= this.node.status;
          this.lastReportAt = this.o.timers.now();
          this.o.logger.info("node registered", { node: this.o.nodeName });
        } catch (err) {
          this.o.logger.warn("unable to register node; will retry", { node: this.o.nodeName, err: (err as Error).message });
          await new Promise<void>((r) => this.o.timers.after(delay, r));
          delay = Math.min(delay * 2, 7_000);
        }
      }
    })().finally(() => {
      this.registering = undefined;
    });
    return this.registering;
  }

  /** One status update (exposed for tests): writes when changed or when a report is due. */
  async update(force = false): Promise<void> {
    if (!this.node) return;
    try {
      await this.report(await this.o.facts(), force);
    } catch (err) {
      if (isNotFound(err)) {
        this.o.logger.warn("node object is gone; registering again", { node: this.o.nodeName });
        this.nodeDeleted();
        return;
      }
      this.o.logger.warn("error updating node status; will retry", { node: this.o.nodeName, err: (err as Error).message });
    }
  }

  private async report(facts: NodeFacts, force: boolean): Promise<void> {
    const now = this.o.timers.now();
    const next = buildNodeStatus(this.lastReported, facts, now);
    const due = now - this.lastReportAt >= this.o.reportFrequencyMs;
    if (!force && !due && !nodeStatusChanged(this.lastReported, next)) return;
    const written = await this.o.limiter.run(() => this.o.nodes.patch(this.o.nodeName, { status: next }, { type: "merge", subresource: "status" }), "heartbeat");
    this.emitTransitions(this.lastReported, next);
    this.node = written;
    this.lastReported = next;
    this.lastReportAt = now;
  }

  private emitTransitions(before: NodeStatus | undefined, after: NodeStatus | undefined): void {
    for (const c of after?.conditions ?? []) {
      const prev = before?.conditions?.find((p) => p.type === c.type);
      if (prev && prev.status === c.status) continue;
      const reason = CONDITION_EVENTS[c.type]?.[c.status];
      if (reason) this.o.events.emit(nodeRef(this.o.nodeName), "Normal", reason, `Node ${this.o.nodeName} status is now: ${reason}`);
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.cancel = this.o.timers.after(ms, () => {
      void this.update().finally(() => this.schedule(this.o.updateFrequencyMs));
    });
  }
}
