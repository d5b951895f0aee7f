/**
 * The cache's nodeTree (internal/cache/node_tree.go): node names grouped by
 * zone, listed round-robin across zones so that the first nodes the
 * scheduler evaluates are spread over zones.
 */
import type { Node } from "kubernetes-types/core/v1.js";

/** utilnode.GetZoneKey: "region:\0:zone" from the topology (or legacy failure-domain) labels; "" when neither is set. */
export function zoneKey(node: Node): string {
  const labels = node.metadata?.labels;
  if (!labels) return "";
  const zone = labels["topology.kubernetes.io/zone"] ?? labels["failure-domain.beta.kubernetes.io/zone"] ?? "";
  const region = labels["topology.kubernetes.io/region"] ?? labels["failure-domain.beta.kubernetes.io/region"] ?? "";
  if (region === "" && zone === "") return "";
  return `${region}:\x00:${zone}`;
}

export class NodeTree {
  private readonly tree = new Map<string, string[]>();
  private zones: string[] = [];
  numNodes = 0;

  addNode(node: Node): void {
    const zone = zoneKey(node);
    const name = node.metadata?.name ?? "";
    const names = this.tree.get(zone);
    if (names) {
      if (names.includes(name)) return;
      names.push(name);
    } else {
      this.zones.push(zone);
      this.tree.set(zone, [name]);
    }
    this.numNodes++;
  }

  /** An error message when the node is not in the tree. */
  removeNode(node: Node): string | undefined {
    const zone = zoneKey(node);
    const name = node.metadata?.name ?? "";
    const names = this.tree.get(zone);
    if (names) {
      const i = names.indexOf(name);
      if (i >= 0) {
        names.splice(i, 1);
        if (names.length === 0) {
          this.tree.delete(zone);
          this.zones = this.zones.filter((z) => z !== zone);
        }
        this.numNodes--;
        return undefined;
      }
    }
    return `node ${JSON.stringify(name)} in group ${JSON.stringify(zone)} was not found`;
  }

  updateNode(oldNode: Node | undefined, newNode: Node): void {
    const oldZone = oldNode ? zoneKey(oldNode) : "";
    if (oldZone === zoneKey(newNode)) return;
    // The old node may not be in the tree; that is fine.
    if (oldNode) this.removeNode(oldNode);
    this.addNode(newNode);
  }

  /** Node names, one from each zone in turn. */
  list(): string[] {
    const out: string[] = [];
    if (this.zones.length === 0) return out;
    let exhausted = 0;
    let index = 0;
    while (out.length < this.numNodes) {
      if (exhausted >= this.zones.length) break;
      for (const zone of this.zones) {
        const names = this.tree.get(zone)!;
        if (index >= names.length) {
          if (index === names.length) exhausted++;
          continue;
        }
        out.push(names[index]!);
      }
      index++;
    }
    return out;
  }
}
