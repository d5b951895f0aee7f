/**
 * One sync of the Endpoints controller (upstream's `syncService` in
 * pkg/controller/endpoint): re-reads the Service, its pods and its current
 * Endpoints from the informer caches and writes the Endpoints only when
 * they differ.
 */
import type { Endpoints, Pod, Service } from "kubernetes-types/core/v1.js";
import type { KubeObject } from "../../client/resource-client.js";
import { splitKey } from "../../client/store.js";
import type { Logger } from "../../machinery/log.js";
import { isNotFound } from "../../machinery/status-error.js";
import { isNamespaceTerminating } from "../endpointslice/util/errors.js";
import { HEADLESS_LABEL, LAST_CHANGE_TRIGGER_TIME } from "../endpointslice/util/labels.js";
import { isServiceIPSet, serviceSelects } from "../endpointslice/util/pods.js";
import { semanticEqual } from "../endpointslice/util/semantic.js";
import { formatRFC3339Nano, type TriggerTimeTracker } from "../endpointslice/util/trigger-time-tracker.js";
import { capacityAnnotationSetCorrectly, computeSubsets, OVER_CAPACITY_ANNOTATION, TRUNCATED, truncateEndpoints } from "./addresses.js";

/**
 * Label naming the controller that manages an Endpoints object (upstream
 * added it after v1.30). It is how the controller knows which Endpoints of
 * a Service without a selector are its own leftovers rather than the user's.
 */
export const MANAGED_BY_LABEL = "endpoints.kubernetes.io/managed-by";
/** This controller's value of {@link MANAGED_BY_LABEL}. */
export const CONTROLLER_NAME = "endpoint-controller";
/** Annotation of leader-election records kept in Endpoints (never collected as leftovers). */
export const LEADER_ELECTION_ANNOTATION = "control-plane.alpha.kubernetes.io/leader";

/** Writes the sync makes, through the API. */
export interface EndpointsWriter {
  create(namespace: string, ep: Endpoints): Promise<Endpoints>;
  update(namespace: string, ep: Endpoints): Promise<Endpoints>;
  delete(namespace: string, name: string): Promise<void>;
}

/** Where a sync reads and writes. */
export interface EndpointsSyncDeps {
  /** The cached Service with key `ns/name`. */
  service(key: string): Service | undefined;
  /** Cached pods of a namespace. */
  podsIn(namespace: string): readonly Pod[];
  /** The cached Endpoints with key `ns/name`. */
  endpoints(key: string): Endpoints | undefined;
  readonly writer: EndpointsWriter;
  readonly triggerTimes: TriggerTimeTracker;
  /** Records a Warning event about `regarding`. */
  warn?(regarding: KubeObject, reason: string, action: string, note: string): void;
  readonly log: Logger;
}

/** Labels of `ep` that the controller compares with the Service's (its own labels removed). */
function comparableLabels(labels: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) if (k !== HEADLESS_LABEL && k !== MANAGED_BY_LABEL) out[k] = v;
  return out;
}

/** Syncs the Endpoints of the Service with key `ns/name`; a thrown error means "retry". */
export async function syncEndpoints(deps: EndpointsSyncDeps, key: string): Promise<void> {
  const { namespace, name } = splitKey(key);
  const svc = deps.service(key);
  if (!svc) {
    // The Service is gone: its Endpoints go too (upstream deletes by name).
    try {
      await deps.writer.delete(namespace, name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    deps.triggerTimes.deleteService(namespace, name);
    return;
  }
  // ExternalName Services get no endpoints (https://issues.k8s.io/105986).
  if (svc.spec?.type === "ExternalName") return;
  if (!svc.spec?.selector) {
    // Endpoints of a Service without a selector belong to whoever writes
    // them (the API server's own `default/kubernetes`, users): only
    // leftovers this controller made, from when it had one, are removed.
    const current = deps.endpoints(key);
    if (current?.metadata?.labels?.[MANAGED_BY_LABEL] === CONTROLLER_NAME) {
      try {
        await deps.writer.delete(namespace, name);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return;
  }

  const pods = deps.podsIn(namespace).filter((p) => serviceSelects(svc, p.metadata?.labels));
  // Computed before the no-op check so the tracker stays current either way.
  const triggerTime = deps.triggerTimes.compute(namespace, svc, pods);
  const { subsets, ready, notReady } = computeSubsets(svc, pods);

  const current = deps.endpoints(key);
  const svcLabels = svc.metadata?.labels ?? {};
  if (
    current &&
    semanticEqual(current.subsets, subsets) &&
    semanticEqual(comparableLabels(current.metadata?.labels), svcLabels) &&
    current.metadata?.labels?.[MANAGED_BY_LABEL] === CONTROLLER_NAME &&
    capacityAnnotationSetCorrectly(current.metadata?.annotations, current.subsets)
  ) {
    return;
  }

  const next: Endpoints = current
    ? structuredClone(current)
    : { apiVersion: "v1", kind: "Endpoints", metadata: { name, namespace } };
  next.subsets = subsets;
  const meta = (next.metadata ??= {});
  const annotations = { ...(meta.annotations ?? {}) };
  if (triggerTime > 0) annotations[LAST_CHANGE_TRIGGER_TIME] = formatRFC3339Nano(triggerTime);
  else delete annotations[LAST_CHANGE_TRIGGER_TIME];
  if (truncateEndpoints(next)) annotations[OVER_CAPACITY_ANNOTATION] = TRUNCATED;
  else delete annotations[OVER_CAPACITY_ANNOTATION];
  meta.annotations = annotations;
  const labels: Record<string, string> = { ...svcLabels };
  if (!isServiceIPSet(svc)) labels[HEADLESS_LABEL] = "";
  else delete labels[HEADLESS_LABEL];
  labels[MANAGED_BY_LABEL] = CONTROLLER_NAME;
  meta.labels = labels;

  deps.log.debug("updating endpoints", { service: key, ready, notReady });
  try {
    if (current) await deps.writer.update(namespace, next);
    else await deps.writer.create(namespace, next);
  } catch (err) {
    // In a terminating namespace creates keep failing: drop the item.
    if (!current && isNamespaceTerminating(err)) return;
    const msg = (err as Error).message;
    if (!current) deps.warn?.(next, "FailedToCreateEndpoint", "CreateEndpoints", `Failed to create endpoint for service ${namespace}/${name}: ${msg}`);
    else deps.warn?.(next, "FailedToUpdateEndpoint", "UpdateEndpoints", `Failed to update endpoint ${namespace}/${name}: ${msg}`);
    throw err;
  }
}
