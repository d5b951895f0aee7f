/**
 * The pods/binding and pods/eviction subresources (and the legacy
 * `bindings` resource), as upstream's BindingREST and EvictionREST: the
 * scheduler binds with the first, `kubectl drain` and the node lifecycle
 * controller evict with the second, respecting PodDisruptionBudgets.
 */
import { selectorFromObject } from "../../machinery/labels.js";
import { badRequest, conflict, internalError, invalid, notFound, type Status, StatusError, tooManyRequests } from "../../machinery/status-error.js";
import { rfc3339, type ObjectStore } from "../registry/object-store.js";
import type { DeleteOptions, KObject } from "../registry/types.js";

type Obj = Record<string, unknown>;

const SUCCESS_CREATED: Status = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 };

/** Assigns `pod` to the node named in `binding.target` (409 if it already has one). */
export async function bindPod(pods: ObjectStore, ns: string, podName: string, binding: KObject): Promise<Status> {
  const target = (binding.target ?? {}) as { kind?: string; name?: string };
  if (binding.metadata?.name && binding.metadata.name !== podName) {
    throw badRequest(`the name of the object (${binding.metadata.name}) does not match the name on the URL (${podName})`);
  }
  if (!target.name) {
    throw invalid("Binding", "", podName, [{ type: "FieldValueRequired", field: "target.name", detail: "Required value" }]);
  }
  if (target.kind && target.kind !== "Node") {
    throw invalid("Binding", "", podName, [{ type: "FieldValueNotSupported", field: "target.kind", detail: 'must be empty or "Node"', value: target.kind }]);
  }
  await pods.guaranteedUpdate(ns, podName, (pod) => {
    const spec = (pod.spec ??= {}) as Obj;
    if (pod.metadata?.deletionTimestamp) {
      throw conflict({ group: "", resource: "pods/binding" }, podName, `pod ${podName} is being deleted, cannot be assigned to a host`);
    }
    if (spec.nodeName) {
      throw conflict({ group: "", resource: "pods/binding" }, podName, `pod ${podName} is already assigned to node "${spec.nodeName}"`);
    }
    spec.nodeName = target.name;
    for (const [k, v] of Object.entries(binding.metadata?.annotations ?? {})) {
      pod.metadata!.annotations = { ...(pod.metadata!.annotations ?? {}), [k]: v };
    }
    const status = (pod.status ??= {}) as { conditions?: Obj[] };
    const conditions = (status.conditions ?? []).filter((c) => c.type !== "PodScheduled");
    conditions.push({ type: "PodScheduled", status: "True", lastProbeTime: null, lastTransitionTime: rfc3339(Date.now()) });
    status.conditions = conditions;
    return pod;
  }, { subresource: "binding" });
  return SUCCESS_CREATED;
}

/** Pods whose eviction needs no budget check: not running, or already going. */
function canIgnoreBudget(pod: KObject): boolean {
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  return !!pod.metadata?.deletionTimestamp || phase === "Succeeded" || phase === "Failed" || phase === "Pending";
}

/**
 * Evicts `podName`: deletes it if no PodDisruptionBudget forbids it, taking
 * one allowed disruption from the budget first; 429 when the budget is spent.
 */
export async function evictPod(pods: ObjectStore, pdbs: ObjectStore, ns: string, podName: string, eviction: KObject): Promise<Status> {
  if (eviction.metadata?.name && eviction.metadata.name !== podName) {
    throw badRequest(`name in URL does not match name in Eviction object`);
  }
  const pod = await pods.get(ns, podName);
  const deleteOptions = (eviction.deleteOptions ?? {}) as DeleteOptions;
  if (!canIgnoreBudget(pod)) {
    const labels = pod.metadata?.labels ?? {};
    const matching = (await pdbs.list(ns)).items.filter((pdb) => {
      const sel = selectorFromObject((pdb.spec as { selector?: Obj } | undefined)?.selector as never);
      return sel !== undefined && !sel.empty && sel.matches(labels);
    });
    if (matching.length > 1) {
      throw internalError("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.");
    }
    if (matching.length === 1) {
      const name = matching[0]!.metadata!.name!;
      await pdbs.guaranteedUpdate(
        ns,
        name,
        (pdb) => {
          const status = (pdb.status ??= {}) as {
            disruptionsAllowed?: number;
            currentHealthy?: number;
            desiredHealthy?: number;
            observedGeneration?: number;
            disruptedPods?: Record<string, string>;
          };
          const observed = status.observedGeneration ?? 0;
          if (observed < (pdb.metadata?.generation ?? 0) || (status.disruptionsAllowed ?? 0) <= 0) {
            const err = tooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 10);
            err.status.details = {
              ...err.status.details,
              causes: [
                {
                  reason: "DisruptionBudget",
                  message: `The disruption budget ${name} needs ${status.desiredHealthy ?? 0} healthy pods and has ${status.currentHealthy ?? 0} currently`,
                },
              ],
            };
            throw err;
          }
          status.disruptionsAllowed = (status.disruptionsAllowed ?? 0) - 1;
          status.disruptedPods = { ...(status.disruptedPods ?? {}), [podName]: rfc3339(Date.now()) };
          return pdb;
        },
        { subresource: "status" },
      );
    }
  }
  try {
    await pods.delete(ns, podName, deleteOptions);
  } catch (err) {
    if (err instanceof StatusError && err.reason === "NotFound") throw notFound({ group: "", resource: "pods" }, podName);
    throw err;
  }
  return SUCCESS_CREATED;
}
