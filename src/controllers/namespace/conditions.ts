/**
 * The status conditions the namespace controller maintains on a
 * terminating Namespace, worded as upstream's
 * pkg/controller/namespace/deletion/status_condition_utils.go: each of
 * five types is `True` with a failure reason while that problem exists
 * and `False` with an "ok" reason otherwise.
 */
import type { Namespace, NamespaceCondition } from "kubernetes-types/core/v1.js";

/** The condition types, in upstream's order. */
export const CONDITION_TYPES = [
  "NamespaceDeletionDiscoveryFailure",
  "NamespaceDeletionGroupVersionParsingFailure",
  "NamespaceDeletionContentFailure",
  "NamespaceContentRemaining",
  "NamespaceFinalizersRemaining",
] as const;

/** One of {@link CONDITION_TYPES}. */
export type NamespaceConditionType = (typeof CONDITION_TYPES)[number];

const OK_MESSAGES: Record<NamespaceConditionType, string> = {
  NamespaceDeletionDiscoveryFailure: "All resources successfully discovered",
  NamespaceDeletionGroupVersionParsingFailure: "All legacy kube types successfully parsed",
  NamespaceDeletionContentFailure: "All content successfully deleted, may be waiting on finalization",
  NamespaceContentRemaining: "All content successfully removed",
  NamespaceFinalizersRemaining: "All content successfully removed",
};

const OK_REASONS: Record<NamespaceConditionType, string> = {
  NamespaceDeletionDiscoveryFailure: "ResourcesDiscovered",
  NamespaceDeletionGroupVersionParsingFailure: "ParsedGroupVersions",
  NamespaceDeletionContentFailure: "ContentDeleted",
  NamespaceContentRemaining: "ContentRemoved",
  NamespaceFinalizersRemaining: "ContentRemoved",
};

/** A discovery failure of some API groups (client-go's `ErrGroupDiscoveryFailed`). */
export class GroupDiscoveryFailedError extends Error {
  override name = "GroupDiscoveryFailedError";
  /** Failures by group/version, e.g. `metrics.k8s.io/v1beta1`. */
  constructor(readonly groups: ReadonlyMap<string, Error>) {
    const parts = [...groups].map(([gv, err]) => `${gv}: ${err.message}`).sort();
    super(`unable to retrieve the complete list of server APIs: ${parts.join(", ")}`);
  }
}

/** What is left in a namespace: instances per resource (`resource.group`) and per finalizer. */
export interface ContentTotals {
  /** Keyed `<resource>.<group>` as upstream prints them (`configmaps.` for the core group). */
  readonly remainingByResource: ReadonlyMap<string, number>;
  readonly remainingByFinalizer: ReadonlyMap<string, number>;
}

function nowRFC3339(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * Collects the problems of one deletion pass and turns them into
 * conditions (upstream's `namespaceConditionUpdater`).
 */
export class NamespaceConditionUpdater {
  private readonly newConditions: NamespaceCondition[] = [];
  private readonly deleteContentErrors: Error[] = [];

  constructor(private readonly now: () => Date = () => new Date()) {}

  private failed(type: NamespaceConditionType, reason: string, message: string): void {
    this.newConditions.push({ type, status: "True", lastTransitionTime: nowRFC3339(this.now()), reason, message });
  }

  /** Discovery failed (wholly or for some groups). */
  processDiscoverResourcesErr(err: Error): void {
    const msg = err instanceof GroupDiscoveryFailedError ? `Discovery failed for some groups, ${err.groups.size} failing: ${err.message}` : err.message;
    this.failed("NamespaceDeletionDiscoveryFailure", "DiscoveryFailed", msg);
  }

  /** A discovered group/version did not parse. */
  processGroupVersionErr(err: Error): void {
    this.failed("NamespaceDeletionGroupVersionParsingFailure", "GroupVersionParsingFailed", err.message);
  }

  /** Deleting one resource's content failed. */
  processDeleteContentErr(err: Error): void {
    this.deleteContentErrors.push(err);
  }

  /** What remains after the pass. */
  processContentTotals(totals: ContentTotals): void {
    const byResource = [...totals.remainingByResource].filter(([, n]) => n > 0);
    if (byResource.length > 0) {
      const parts = byResource.map(([r, n]) => `${r} has ${n} resource instances`).sort();
      this.failed("NamespaceContentRemaining", "SomeResourcesRemain", `Some resources are remaining: ${parts.join(", ")}`);
    }
    const byFinalizer = [...totals.remainingByFinalizer].filter(([, n]) => n > 0);
    if (byFinalizer.length > 0) {
      const parts = byFinalizer.map(([f, n]) => `${f} in ${n} resource instances`).sort();
      this.failed("NamespaceFinalizersRemaining", "SomeFinalizerRemain", `Some finalizers are remaining: ${parts.join(", ")}`);
    }
  }

  /**
   * Writes the pass's conditions into `ns.status.conditions` (the "ok"
   * variant for each type without a problem); true if anything changed.
   * The transition time moves only when a status flips.
   */
  update(ns: Namespace): boolean {
    if (!this.newConditions.some((c) => c.type === "NamespaceDeletionContentFailure") && this.deleteContentErrors.length > 0) {
      const msgs = this.deleteContentErrors.map((e) => e.message).sort();
      this.failed(
        "NamespaceDeletionContentFailure",
        "ContentDeletionFailed",
        `Failed to delete all resource types, ${this.deleteContentErrors.length} remaining: ${msgs.join(", ")}`,
      );
    }
    const status = (ns.status ??= {});
    const conditions = (status.conditions ??= []);
    let changed = false;
    for (const type of CONDITION_TYPES) {
      const next = this.newConditions.find((c) => c.type === type) ?? {
        type,
        status: "False",
        lastTransitionTime: nowRFC3339(this.now()),
        reason: OK_REASONS[type],
        message: OK_MESSAGES[type],
      };
      const old = conditions.find((c) => c.type === type);
      if (!old) {
        conditions.push(next);
        changed = true;
      } else if (old.status !== next.status || old.message !== next.message || old.reason !== next.reason) {
        if (old.status !== next.status) old.lastTransitionTime = nowRFC3339(this.now());
        old.status = next.status;
        old.reason = next.reason;
        old.message = next.message;
        changed = true;
      }
    }
    return changed;
  }
}
