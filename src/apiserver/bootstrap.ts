/**
 * What the API server makes sure exists at start, as upstream's post-start
 * hooks do: the system namespaces.
 */
import type { Logger } from "../machinery/log.js";
import { isAlreadyExists, isNotFound } from "../machinery/status-error.js";
import type { ApiServer } from "./server.js";

/** Namespaces every cluster has (NamespaceLifecycle keeps the first three undeletable). */
export const SYSTEM_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];

export async function bootstrapNamespaces(api: ApiServer, log: Logger): Promise<void> {
  const namespaces = api.objects("", "v1", "namespaces");
  for (const name of SYSTEM_NAMESPACES) {
    try {
      await namespaces.get(undefined, name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await namespaces.create(undefined, { apiVersion: "v1", kind: "Namespace", metadata: { name } });
        log.info("created namespace", { namespace: name });
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
    }
  }
}

export { ensureSystemPriorityClasses } from "./admission/system-priority-classes.js";
