/**
 * NamespaceLifecycle, as upstream: nothing is created in a namespace that
 * does not exist or is terminating, and the system namespaces cannot be
 * deleted. Like upstream's it is a mutating (Admit) plugin, so a missing
 * namespace is reported before any later mutating plugin (ServiceAccount)
 * looks inside it.
 */
import { forbidden, notFound } from "../../machinery/status-error.js";
import type { AdmissionPlugin } from "./admission.js";
import type { ObjectCache } from "../registry/object-cache.js";

/** Namespaces that always exist and may not be deleted. */
export const IMMORTAL_NAMESPACES = ["default", "kube-system", "kube-public"];

export function namespaceLifecycle(namespaces: ObjectCache): AdmissionPlugin {
  return {
    name: "NamespaceLifecycle",
    async admit(a) {
      if (a.resource.plural === "namespaces" && a.resource.group === "") {
        if (a.operation === "DELETE" && IMMORTAL_NAMESPACES.includes(a.name)) {
          throw forbidden(`namespaces "${a.name}" is forbidden: this namespace may not be deleted`, { name: a.name, kind: "namespaces" });
        }
        return;
      }
      if (!a.resource.namespaced || a.operation !== "CREATE") return;
      const ns = await namespaces.find(undefined, a.namespace);
      if (!ns) throw notFound({ group: "", resource: "namespaces" }, a.namespace);
      if (ns.metadata?.deletionTimestamp || (ns.status as { phase?: string } | undefined)?.phase === "Terminating") {
        // Events may still be written about a terminating namespace's objects, as upstream allows.
        if (a.resource.plural === "events") return;
        throw forbidden(
          `${a.resource.plural}${a.resource.group ? `.${a.resource.group}` : ""} "${a.name}" is forbidden: unable to create new content in namespace ${a.namespace} because it is being terminated`,
          { name: a.name, group: a.resource.group, kind: a.resource.plural },
        );
      }
    },
  };
}
