/**
 * The admission chain, as upstream's: mutating plugins in order, then
 * validating plugins in order. A plugin rejects by throwing a StatusError.
 */
import type { ResourceType } from "../../api/resources.js";
import type { UserInfo } from "../auth/authn.js";
import type { KObject } from "../registry/types.js";

export type Operation = "CREATE" | "UPDATE" | "DELETE" | "CONNECT";

/** What a plugin sees of a request. */
export interface AdmissionAttributes {
  readonly operation: Operation;
  readonly resource: ResourceType;
  readonly subresource: string;
  readonly namespace: string;
  readonly name: string;
  /** The incoming object (mutable in `admit`); absent for DELETE. */
  readonly object?: KObject;
  readonly oldObject?: KObject;
  readonly user: UserInfo;
  readonly dryRun: boolean;
  /**
   * Warnings for the client (upstream's warning.AddWarning): the handler
   * sends each as a `Warning: 299 - "…"` header, which kubectl prints.
   */
  readonly warnings?: string[];
}

/** One admission plugin; implement `admit` (mutating), `validate`, or both. */
export interface AdmissionPlugin {
  readonly name: string;
  admit?(attrs: AdmissionAttributes): Promise<void> | void;
  validate?(attrs: AdmissionAttributes): Promise<void> | void;
}

export class AdmissionChain {
  constructor(private readonly plugins: readonly AdmissionPlugin[]) {}

  /** Runs every mutating plugin, then every validating plugin. */
  async run(attrs: AdmissionAttributes): Promise<void> {
    // Most plugins answer synchronously for most requests: await only a promise (every request passes here).
    for (const p of this.plugins) {
      const r = p.admit?.(attrs);
      if (r) await r;
    }
    for (const p of this.plugins) {
      const r = p.validate?.(attrs);
      if (r) await r;
    }
  }
}
