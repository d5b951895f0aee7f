/**
 * Pod networking as the runc runtime sees it: a network namespace per
 * sandbox, wired by the standard CNI plugins (DESIGN.md §1).
 */
import type { PortMapping, RuntimeCondition, RuntimeResult } from "../../runtime/types.js";

/** What wiring one sandbox needs. */
export interface PodNetworkRequest {
  /** The sandbox id (CNI's CNI_CONTAINERID). */
  readonly sandboxId: string;
  readonly podName: string;
  readonly podNamespace: string;
  readonly podUid: string;
  readonly portMappings: readonly PortMapping[];
}

/** A wired sandbox network. */
export interface PodNetworkAttachment {
  /** Path of the network namespace (`/run/netns/<prefix><id>`), for the OCI spec's network namespace. */
  readonly netnsPath: string;
  /** Pod IPs, primary first. */
  readonly ips: readonly string[];
}

/**
 * One node's pod network. Implementations keep enough on disk that a
 * restarted agent finds existing attachments again (`attachment`), and
 * every operation is idempotent.
 */
export interface PodNetwork {
  /** Creates the sandbox's network namespace and runs CNI ADD; on failure nothing is left behind. */
  setUp(req: PodNetworkRequest): Promise<RuntimeResult<PodNetworkAttachment>>;
  /** CNI DEL and removal of the namespace; succeeds when there is nothing to remove. */
  tearDown(sandboxId: string): Promise<RuntimeResult<void>>;
  /** The attachment of a sandbox set up earlier (also by a previous agent process), if it still exists. */
  attachment(sandboxId: string): Promise<PodNetworkAttachment | undefined>;
  /** Sets the node's pod CIDR (node.spec.podCIDR); NetworkReady is false until it is known. */
  setPodCidr(cidr: string): Promise<RuntimeResult<void>>;
  /** The `NetworkReady` runtime condition. */
  condition(): RuntimeCondition;
}
