/**
 * The pieces the control plane's own selector-less Services share
 * (`default/kubernetes`, `kube-system/kube-dns`): their endpoints are not
 * pods, so the server writes the Endpoints (labelled skip-mirror, so the
 * mirroring controller leaves them alone) and the EndpointSlice itself, as
 * upstream's EndpointsAdapter does for `kubernetes`. Each step reports what
 * it did and never throws for API errors, so a periodic reconcile retries.
 */
import { isDeepStrictEqual } from "node:util";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { isAlreadyExists, isNotFound } from "../../machinery/status-error.js";
import type { KObject } from "../registry/types.js";

export const SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror";
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

/** What one reconcile did to one object. */
export type ReconcileOutcome = "created" | "updated" | "unchanged" | "failed";

/** The object calls a reconcile needs (the API server's ObjectStore has them; tests fake them). */
export interface ObjectAccess {
  get(ns: string | undefined, name: string): Promise<KObject>;
  create(ns: string | undefined, body: KObject): Promise<unknown>;
  update(ns: string | undefined, name: string, body: KObject): Promise<unknown>;
  delete(ns: string | undefined, name: string): Promise<unknown>;
}

/** One Service port as these Services declare it. */
export interface SystemServicePort {
  readonly name: string;
  readonly protocol: string;
  readonly port: number;
  readonly targetPort: number;
}

/** The object `ns/name`, or undefined when there is none. */
export async function getIfExists(store: ObjectAccess, ns: string, name: string): Promise<KObject | undefined> {
  try {
    return await store.get(ns, name);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Runs one reconcile step for `ns/name`: logs what changed, and turns a thrown error into "failed" (logged). */
export function reconcileStep(ns: string, name: string, logger: Logger = silentLogger) {
  return async (what: string, fn: () => Promise<ReconcileOutcome>): Promise<ReconcileOutcome> => {
    try {
      const outcome = await fn();
      if (outcome !== "unchanged") logger.info(`${outcome} ${what}`, { object: `${ns}/${name}` });
      return outcome;
    } catch (err) {
      logger.error(`failed to reconcile ${what}`, { object: `${ns}/${name}`, err: err instanceof Error ? err.message : String(err) });
      return "failed";
    }
  };
}

/**
 * Upstream's checkServiceFormat: every field of every port equal, in order
 * (a zero nodePort, which the API may add, allowed; nothing else extra).
 */
export function servicePortsMatch(actual: unknown, want: readonly SystemServicePort[]): boolean {
  if (!Array.isArray(actual) || actual.length !== want.length) return false;
  return want.every((w, i) => {
    const a = actual[i] as Record<string, unknown> | undefined;
    if (!a || typeof a !== "object") return false;
    const { name, protocol, port, targetPort, nodePort, ...rest } = a;
    return name === w.name && protocol === w.protocol && port === w.port && targetPort === w.targetPort && (nodePort === undefined || nodePort === 0) && Object.keys(rest).length === 0;
  });
}

/** Creates or updates the Endpoints `ns/name` to `subsets`, labelled skip-mirror (other labels kept). */
export async function reconcileSkipMirrorEndpoints(store: ObjectAccess, ns: string, name: string, subsets: unknown[]): Promise<ReconcileOutcome> {
  const current = await getIfExists(store, ns, name);
  if (!current) {
    try {
      await store.create(ns, { apiVersion: "v1", kind: "Endpoints", metadata: { name, namespace: ns, labels: { [SKIP_MIRROR_LABEL]: "true" } }, subsets });
      return "created";
    } catch (err) {
      if (isAlreadyExists(err)) return "unchanged";
      throw err;
    }
  }
  const labels = current.metadata?.labels ?? {};
  if (labels[SKIP_MIRROR_LABEL] === "true" && isDeepStrictEqual(current.subsets, subsets)) return "unchanged";
  const next = structuredClone(current);
  next.metadata = { ...next.metadata, labels: { ...labels, [SKIP_MIRROR_LABEL]: "true" } };
  next.subsets = subsets;
  await store.update(ns, name, next);
  return "updated";
}

/**
 * Creates or updates the EndpointSlice `slice` (its metadata names it):
 * endpoints, ports and labels as given. `labels: "replace"` writes the
 * slice's labels wholesale (upstream's EndpointsAdapter for `kubernetes`);
 * `"merge"` keeps labels others added. A slice of another addressType (an
 * immutable field) is replaced.
 */
export async function reconcileOwnEndpointSlice(store: ObjectAccess, slice: KObject, labels: "replace" | "merge"): Promise<ReconcileOutcome> {
  const ns = slice.metadata!.namespace!;
  const name = slice.metadata!.name!;
  const want = slice.metadata?.labels ?? {};
  const current = await getIfExists(store, ns, name);
  if (!current) {
    try {
      await store.create(ns, structuredClone(slice));
      return "created";
    } catch (err) {
      if (isAlreadyExists(err)) return "unchanged";
      throw err;
    }
  }
  if (current.addressType !== slice.addressType) {
    await store.delete(ns, name);
    await store.create(ns, structuredClone(slice));
    return "updated";
  }
  const have = current.metadata?.labels ?? {};
  const labelsOk = labels === "replace" ? isDeepStrictEqual(have, want) : Object.entries(want).every(([k, v]) => have[k] === v);
  if (labelsOk && isDeepStrictEqual(current.endpoints, slice.endpoints) && isDeepStrictEqual(current.ports, slice.ports)) return "unchanged";
  const next = structuredClone(current);
  next.metadata = { ...next.metadata, labels: labels === "replace" ? { ...want } : { ...have, ...want } };
  next.endpoints = structuredClone(slice.endpoints);
  next.ports = structuredClone(slice.ports);
  await store.update(ns, name, next);
  return "updated";
}
