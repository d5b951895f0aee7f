/**
 * Keeps a {@link PolicyIndex} current from the four RBAC resources: lists
 * each, then follows its watch, relisting after a gap (410 Gone), as an
 * informer does. The API server's own stores are read directly, so a change
 * reaches the index as soon as it is committed.
 */
import type { ClusterRole } from "kubernetes-types/rbac/v1.js";
import type { Logger } from "../../../machinery/log.js";
import type { ObjectStore } from "../../registry/object-store.js";
import type { KObject } from "../../registry/types.js";
import type { PolicyIndex } from "./policy-index.js";

export type RbacKind = "ClusterRole" | "Role" | "ClusterRoleBinding" | "RoleBinding";

export interface PolicyWatchOptions {
  readonly index: PolicyIndex;
  /** The store of each kind. */
  readonly stores: Readonly<Record<RbacKind, ObjectStore>>;
  readonly logger: Logger;
}

export class PolicyWatch {
  private readonly ac = new AbortController();

  constructor(private readonly o: PolicyWatchOptions) {}

  /** Resolves once every kind is listed; follows changes until {@link stop}. */
  async start(): Promise<void> {
    const kinds = Object.keys(this.o.stores) as RbacKind[];
    const revisions = await Promise.all(kinds.map((k) => this.relist(k)));
    kinds.forEach((k, i) => void this.follow(k, revisions[i]!));
  }

  stop(): void {
    this.ac.abort();
  }

  private async relist(kind: RbacKind): Promise<string> {
    const list = await this.o.stores[kind].list(undefined);
    this.o.index.replace(kind, list.items as ClusterRole[]);
    return list.metadata.resourceVersion;
  }

  private async follow(kind: RbacKind, from: string): Promise<void> {
    let revision = from;
    const signal = this.ac.signal;
    while (!signal.aborted) {
      try {
        for await (const ev of this.o.stores[kind].watch(undefined, { resourceVersion: revision, signal })) {
          if (ev.type === "ERROR") throw new Error("watch expired");
          if (ev.type === "BOOKMARK") continue;
          const o = ev.object as KObject;
          revision = o.metadata?.resourceVersion ?? revision;
          this.o.index.apply(kind, o as ClusterRole, ev.type === "DELETED");
        }
      } catch (err) {
        if (signal.aborted) return;
        this.o.logger.debug("rbac relisting", { kind, err: (err as Error).message });
        try {
          revision = await this.relist(kind);
        } catch {
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    }
  }
}
