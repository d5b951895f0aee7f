/**
 * The `default` ServiceAccount of the namespaces that exist when the API server
 * starts, made before it listens. The ServiceAccount controller does the
 * same (and keeps doing it), but it runs in the controller manager, which
 * starts seconds later or not at all (`--disable controller-manager`), and
 * ServiceAccount admission refuses pods whose ServiceAccount is missing:
 * this closes that window for the namespaces every cluster has.
 */
import type { Logger } from "../../../machinery/log.js";
import { isAlreadyExists } from "../../../machinery/status-error.js";
import type { KList, KObject } from "../../registry/types.js";

/** The store calls this needs (an ObjectStore for each resource). */
export interface DefaultServiceAccountStores {
  readonly namespaces: { list(ns: undefined): Promise<KList> };
  readonly serviceAccounts: { list(ns: string): Promise<KList>; create(ns: string, body: KObject): Promise<KObject> };
}

/** Makes the missing `default` ServiceAccounts of active namespaces; returns how many it made. */
export async function ensureDefaultServiceAccounts(stores: DefaultServiceAccountStores, log: Logger): Promise<number> {
  let made = 0;
  for (const ns of (await stores.namespaces.list(undefined)).items) {
    const name = ns.metadata?.name;
    if (!name || (ns.status as { phase?: string } | undefined)?.phase !== "Active" || ns.metadata?.deletionTimestamp) continue;
    const existing = (await stores.serviceAccounts.list(name)).items;
    if (existing.some((sa) => sa.metadata?.name === "default")) continue;
    try {
      await stores.serviceAccounts.create(name, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace: name } });
      made++;
      log.info("created service account", { serviceAccount: `${name}/default` });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }
  return made;
}
