/**
 * The system PriorityClasses, created at start as upstream's
 * `scheduling/bootstrap-system-priority-classes` post-start hook does:
 * each one missing is created; existing ones are left as they are.
 */
import type { Logger } from "../../machinery/log.js";
import { isAlreadyExists, isNotFound } from "../../machinery/status-error.js";
import type { ObjectStore } from "../registry/object-store.js";
import { PREEMPT_LOWER_PRIORITY, SYSTEM_PRIORITY_CLASSES } from "./priority.js";

/** Creates `system-node-critical` and `system-cluster-critical` if missing; safe to call on every start. */
export async function ensureSystemPriorityClasses(priorityClasses: ObjectStore, log: Logger): Promise<void> {
  for (const spc of SYSTEM_PRIORITY_CLASSES) {
    try {
      await priorityClasses.get(undefined, spc.name);
      continue;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    try {
      await priorityClasses.create(undefined, {
        apiVersion: "scheduling.k8s.io/v1",
        kind: "PriorityClass",
        metadata: { name: spc.name },
        value: spc.value,
        description: spc.description,
        // What upstream's PriorityClass defaulting stores.
        preemptionPolicy: PREEMPT_LOWER_PRIORITY,
      });
      log.info("created PriorityClass", { name: spc.name, value: spc.value });
    } catch (err) {
      // Another server got there first.
      if (!isAlreadyExists(err)) throw err;
    }
  }
}
