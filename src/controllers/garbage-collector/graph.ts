/**
 * The garbage collector's dependency graph, as upstream's `uidToNode`:
 * one node per object uid, with its owners (ownerReferences) and the
 * dependents that name it. An owner named by a dependent before (or
 * without) being observed itself is a *virtual* node whose existence the
 * collector must check against the API.
 */
import type { OwnerReference } from "kubernetes-types/meta/v1.js";

/** Who an object is: enough to GET, PATCH or DELETE it. */
export interface ObjectIdentity {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  /** The namespace for namespaced objects; "" for cluster-scoped ones (or unknown, for a virtual owner). */
  readonly namespace: string;
  readonly uid: string;
}

/** One object in the graph. */
export interface GraphNode {
  identity: ObjectIdentity;
  owners: readonly OwnerReference[];
  readonly dependents: Set<GraphNode>;
  /** Only known from a dependent's ownerReference; not (yet) observed. */
  virtual: boolean;
  /** Has a deletionTimestamp. */
  beingDeleted: boolean;
  /** Being deleted with the `foregroundDeletion` finalizer: waits for blocking dependents. */
  deletingDependents: boolean;
}

/** uid → node, with owner/dependent links kept symmetric. */
export class DependencyGraph {
  private readonly nodes = new Map<string, GraphNode>();

  get size(): number {
    return this.nodes.size;
  }

  get(uid: string): GraphNode | undefined {
    return this.nodes.get(uid);
  }

  /** Adds an observed node; returns the owners that were unknown (now virtual nodes to verify). */
  insert(node: GraphNode): GraphNode[] {
    this.nodes.set(node.identity.uid, node);
    return this.linkOwners(node, node.owners);
  }

  /** Replaces a node's owners; returns owners new to the graph and owners the node no longer names. */
  setOwners(node: GraphNode, owners: readonly OwnerReference[]): { added: GraphNode[]; removed: GraphNode[] } {
    const before = new Set(node.owners.map((o) => o.uid));
    const after = new Set(owners.map((o) => o.uid));
    const removed: GraphNode[] = [];
    for (const o of node.owners) {
      if (after.has(o.uid)) continue;
      const owner = this.nodes.get(o.uid);
      if (!owner) continue;
      owner.dependents.delete(node);
      removed.push(owner);
    }
    node.owners = owners;
    const added = this.linkOwners(
      node,
      owners.filter((o) => !before.has(o.uid)),
    );
    return { added, removed };
  }

  /** Removes a node and its links; its dependents keep pointing at nothing (the caller re-checks them). */
  remove(node: GraphNode): void {
    this.nodes.delete(node.identity.uid);
    for (const o of node.owners) this.nodes.get(o.uid)?.dependents.delete(node);
  }

  private linkOwners(node: GraphNode, owners: readonly OwnerReference[]): GraphNode[] {
    const fresh: GraphNode[] = [];
    for (const o of owners) {
      let owner = this.nodes.get(o.uid);
      if (!owner) {
        // Upstream makes a virtual owner in the dependent's namespace; verification finds out.
        owner = {
          identity: { apiVersion: o.apiVersion, kind: o.kind, name: o.name, namespace: node.identity.namespace, uid: o.uid },
          owners: [],
          dependents: new Set(),
          virtual: true,
          beingDeleted: false,
          deletingDependents: false,
        };
        this.nodes.set(o.uid, owner);
        fresh.push(owner);
      }
      owner.dependents.add(node);
    }
    return fresh;
  }
}
