/** Nodes (upstream printNode). */
import type { Node, NodeCondition } from "kubernetes-types/core/v1.js";
import { AGE, col, NAME } from "./columns.js";
import { DOC } from "./descriptions.js";
import { since, sortedUnique } from "./format.js";
import type { PrintContext, PrintedRow, Printer } from "./types.js";

/** labelNodeRolePrefix: `node-role.kubernetes.io/<role>` labels name roles. */
const NODE_ROLE_PREFIX = "node-role.kubernetes.io/";
/** nodeLabelRole: the older `kubernetes.io/role=<role>` label. */
const NODE_LABEL_ROLE = "kubernetes.io/role";

/** findNodeRoles: sorted, unique roles from both label forms. */
export function nodeRoles(node: Node): string[] {
  const roles: string[] = [];
  for (const [k, v] of Object.entries(node.metadata?.labels ?? {})) {
    if (k.startsWith(NODE_ROLE_PREFIX)) {
      const role = k.slice(NODE_ROLE_PREFIX.length);
      if (role.length > 0) roles.push(role);
    } else if (k === NODE_LABEL_ROLE && v !== "") {
      roles.push(v);
    }
  }
  return sortedUnique(roles);
}

/** Ready / NotReady / Unknown, then SchedulingDisabled for a cordoned node. */
export function nodeStatus(node: Node): string {
  const byType = new Map<string, NodeCondition>();
  for (const c of node.status?.conditions ?? []) byType.set(c.type, c);
  const status: string[] = [];
  // Only the Ready condition is shown (NodeAllConditions = [NodeReady]).
  const ready = byType.get("Ready");
  if (ready) status.push(ready.status === "True" ? "Ready" : "NotReady");
  if (status.length === 0) status.push("Unknown");
  if (node.spec?.unschedulable) status.push("SchedulingDisabled");
  return status.join(",");
}

function address(node: Node, type: string): string {
  return (node.status?.addresses ?? []).find((a) => a.type === type)?.address ?? "<none>";
}

export const nodePrinter: Printer = {
  columns: [
    NAME,
    col("Status", "string", "The status of the node"),
    col("Roles", "string", "The roles of the node"),
    AGE,
    col("Version", "string", DOC.kubeletVersion),
    col("Internal-IP", "string", DOC.nodeAddresses, true),
    col("External-IP", "string", DOC.nodeAddresses, true),
    col("OS-Image", "string", DOC.osImage, true),
    col("Kernel-Version", "string", DOC.kernelVersion, true),
    col("Container-Runtime", "string", DOC.containerRuntimeVersion, true),
  ],
  print(obj: object, ctx: PrintContext): PrintedRow {
    const node = obj as Node;
    const info = node.status?.nodeInfo;
    const roles = nodeRoles(node).join(",");
    return {
      cells: [
        node.metadata?.name ?? "",
        nodeStatus(node),
        roles === "" ? "<none>" : roles,
        since(node.metadata?.creationTimestamp, ctx.now),
        info?.kubeletVersion ?? "",
        address(node, "InternalIP"),
        address(node, "ExternalIP"),
        info?.osImage || "<unknown>",
        info?.kernelVersion || "<unknown>",
        info?.containerRuntimeVersion || "<unknown>",
      ],
    };
  },
};
