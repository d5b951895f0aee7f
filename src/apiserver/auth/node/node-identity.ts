/**
 * Who is a node, as upstream's nodeidentifier: a user named
 * `system:node:<name>` in the `system:nodes` group.
 */
import type { UserInfo } from "../authn.js";

export const NODE_USER_PREFIX = "system:node:";
export const NODES_GROUP = "system:nodes";

/** The node's name, or undefined when `user` is not a node; "" for a node whose name is empty. */
export function nodeIdentity(user: UserInfo): string | undefined {
  if (!user.username.startsWith(NODE_USER_PREFIX)) return undefined;
  if (!user.groups.includes(NODES_GROUP)) return undefined;
  return user.username.slice(NODE_USER_PREFIX.length);
}
