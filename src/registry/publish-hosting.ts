/**
 * The server's side of KEP-1755: keeps `kube-public/local-registry-hosting`
 * saying where the registry is (created, or repaired when edited or stale),
 * and deletes it when the server runs no registry, so nobody is pointed at
 * a port nothing serves.
 */
import type { ObjectStore } from "../apiserver/registry/object-store.js";
import type { KObject } from "../apiserver/registry/types.js";
import type { Logger } from "../machinery/log.js";
import { isAlreadyExists, isConflict, isNotFound } from "../machinery/status-error.js";
import { LOCAL_REGISTRY_HOSTING, type LocalRegistryHostingV1, localRegistryHostingConfigMap } from "./hosting.js";

const { namespace, name, key } = LOCAL_REGISTRY_HOSTING;

/**
 * Makes the ConfigMap carry `hosting` (or removes it when undefined).
 * Safe to call repeatedly and from several servers; errors are logged,
 * never thrown (a missing ConfigMap is a degraded cluster, not a dead server).
 */
export async function publishLocalRegistryHosting(configMaps: ObjectStore, hosting: LocalRegistryHostingV1 | undefined, log: Logger): Promise<void> {
  try {
    if (hosting === undefined) {
      try {
        await configMaps.delete(namespace, name);
        log.info("deleted ConfigMap: the server runs no registry", { configMap: `${namespace}/${name}` });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      return;
    }
    const want = localRegistryHostingConfigMap(hosting);
    let current: KObject | undefined;
    try {
      current = await configMaps.get(namespace, name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (current === undefined) {
      try {
        await configMaps.create(namespace, want as unknown as KObject);
        log.info("created ConfigMap", { configMap: `${namespace}/${name}`, host: hosting.host });
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
      return;
    }
    const data = (current as { data?: Record<string, string> }).data ?? {};
    if (data[key] === want.data?.[key]) return;
    // Other keys someone added stay; ours is the server's to say.
    const updated = { ...current, data: { ...data, [key]: want.data?.[key] as string } } as KObject;
    try {
      await configMaps.update(namespace, name, updated);
      log.info("updated ConfigMap", { configMap: `${namespace}/${name}`, host: hosting.host });
    } catch (err) {
      // Someone wrote it meanwhile: the next repair looks again.
      if (!isConflict(err)) throw err;
    }
  } catch (err) {
    log.warn("could not publish where the registry is", { configMap: `${namespace}/${name}`, err: (err as Error).message });
  }
}
