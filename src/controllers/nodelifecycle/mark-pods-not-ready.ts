/**
 * MarkPodsNotReady, as upstream's pkg/controller/util/node: the pods of a
 * node that stopped being Ready get their Ready condition set False (the
 * kubelet that would do it is gone or sick), so Services stop sending them
 * traffic, and each gets a `NodeNotReady` warning event.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import type { Logger } from "../../machinery/log.js";
import { isNotFound } from "../../machinery/status-error.js";
import { aggregate } from "../common/errors.js";
import type { LifecycleApi, LifecycleRecorder } from "./api.js";
import { podRef, updatePodCondition } from "./pod-status.js";

/** Marks the pods bound to `nodeName` not ready; rejects with the failures (NotFound ones excepted). */
export async function markPodsNotReady(
  api: LifecycleApi,
  recorder: LifecycleRecorder | undefined,
  pods: readonly Pod[],
  nodeName: string,
  nowMs: number,
  log: Logger,
): Promise<void> {
  log.debug("update ready status of pods on node", { node: nodeName });
  const errs: unknown[] = [];
  for (const cached of pods) {
    if (cached.spec?.nodeName !== nodeName) continue;
    const ready = cached.status?.conditions?.find((c) => c.type === "Ready");
    if (!ready) continue;
    const status = structuredClone(cached.status ?? {});
    if (!updatePodCondition(status, { ...ready, status: "False" }, nowMs)) continue;
    const pod: Pod = { ...structuredClone(cached), status };
    const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    log.debug("updating ready status of pod to false", { pod: key });
    try {
      await api.updatePodStatus(pod);
    } catch (err) {
      if (isNotFound(err)) continue;
      log.info("failed to update status for pod", { pod: key, err: (err as Error).message });
      errs.push(err);
    }
    // Recorded after the write, so the event is about a pod that still exists.
    recorder?.event(podRef(pod), undefined, "Warning", "NodeNotReady", "NodeNotReady", "Node is not ready");
  }
  const err = aggregate(errs);
  if (err) throw err;
}
