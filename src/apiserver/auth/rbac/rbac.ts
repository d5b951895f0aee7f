/**
 * RBAC for one API server: the policy index kept current from the server's
 * own RBAC stores, the authorizer and rule resolver over it, the bootstrap
 * policy reconciled at start, and the escalation-prevention admission
 * plugin.
 */
import type { Logger } from "../../../machinery/log.js";
import type { AdmissionPlugin } from "../../admission/admission.js";
import type { ObjectStore } from "../../registry/object-store.js";
import type { Authorizer } from "../authz.js";
import { NodeRoleAuthorizer, RbacAuthorizer } from "./authorizer.js";
import { bootstrapPolicy } from "./bootstrap-policy.js";
import { rbacEscalationPrevention } from "./escalation.js";
import { PolicyIndex } from "./policy-index.js";
import { PolicyWatch, type RbacKind } from "./policy-watch.js";
import { reconcileBootstrapPolicy } from "./reconcile.js";

export interface RbacOptions {
  readonly stores: Readonly<Record<RbacKind, ObjectStore>>;
  readonly logger: Logger;
}

export class Rbac {
  readonly index = new PolicyIndex();
  readonly authorizer: RbacAuthorizer;
  /** Members of system:nodes get the `system:node` ClusterRole until a Node authorizer replaces this. */
  readonly nodeRoleAuthorizer: NodeRoleAuthorizer;
  private readonly watch: PolicyWatch;

  constructor(private readonly o: RbacOptions) {
    this.authorizer = new RbacAuthorizer(this.index);
    this.nodeRoleAuthorizer = new NodeRoleAuthorizer(this.index);
    this.watch = new PolicyWatch({ index: this.index, stores: o.stores, logger: o.logger });
  }

  /** Reconciles the bootstrap policy, then fills the index and follows changes. */
  async start(): Promise<void> {
    await reconcileBootstrapPolicy(
      { clusterRoles: this.o.stores.ClusterRole, clusterRoleBindings: this.o.stores.ClusterRoleBinding, roles: this.o.stores.Role, roleBindings: this.o.stores.RoleBinding },
      bootstrapPolicy(),
      this.o.logger,
    );
    await this.watch.start();
  }

  stop(): void {
    this.watch.stop();
  }

  /** The admission plugin refusing RBAC writes that grant what the writer does not hold. */
  escalationPrevention(authorizer: () => Authorizer): AdmissionPlugin {
    return rbacEscalationPrevention({ index: this.index, authorizer });
  }
}
