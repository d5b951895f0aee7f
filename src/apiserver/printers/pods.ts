/** Pods and pod templates (upstream printPod, printPodTemplate). */
import type { Container, ContainerStatus, Pod, PodCondition, PodTemplate } from "kubernetes-types/core/v1.js";
import { AGE, col, NAME } from "./columns.js";
import { DOC } from "./descriptions.js";
import { containerCells, formatLabels, humanDuration, parseTime, since } from "./format.js";
import type { PrintContext, PrintedRow, Printer, TableRowCondition } from "./types.js";

/** node.NodeUnreachablePodReason: the reason the node lifecycle controller sets on pods of a lost node. */
const NODE_UNREACHABLE_POD_REASON = "NodeLost";

const POD_SUCCEEDED: TableRowCondition[] = [
  { type: "Completed", status: "True", reason: "Succeeded", message: "The pod has completed successfully." },
];
const POD_FAILED: TableRowCondition[] = [{ type: "Completed", status: "True", reason: "Failed", message: "The pod failed." }];

function isRestartableInitContainer(c: Container | undefined): boolean {
  return c?.restartPolicy === "Always";
}

function hasPodReadyCondition(conditions: readonly PodCondition[]): boolean {
  return conditions.some((c) => c.type === "Ready" && c.status === "True");
}

/** isPodInitializedConditionTrue: the first Initialized condition decides. */
function isPodInitialized(conditions: readonly PodCondition[]): boolean {
  const c = conditions.find((x) => x.type === "Initialized");
  return c !== undefined && c.status === "True";
}

/** The last termination's finishedAt, or undefined when there is none. */
function lastFinished(cs: ContainerStatus): number | undefined {
  return cs.lastState?.terminated ? parseTime(cs.lastState.terminated.finishedAt) : undefined;
}

function later(a: number | undefined, b: number | undefined): number | undefined {
  if (b === undefined) return a;
  if (a === undefined) return b;
  return b > a ? b : a;
}

/** The Pod's Ready/Status/Restarts cells: printPod's logic, step by step. */
export function podCells(pod: Pod, now: Date): { ready: string; reason: string; restarts: string } {
  const spec = pod.spec ?? { containers: [] };
  const status = pod.status ?? {};
  const conditions = status.conditions ?? [];
  const containers = spec.containers ?? [];
  const specInit = spec.initContainers ?? [];

  let restarts = 0;
  let restartableInitRestarts = 0;
  let totalContainers = containers.length;
  let readyContainers = 0;
  let lastRestart: number | undefined;
  let lastRestartableInitRestart: number | undefined;

  // The API server sets phase Pending on create; an object without one prints as such.
  const phase = status.phase ?? "Pending";
  let reason = status.reason ? status.reason : phase;

  // A pod held by scheduling gates carries {type: PodScheduled, reason: SchedulingGated}.
  for (const c of conditions) {
    if (c.type === "PodScheduled" && c.reason === "SchedulingGated") reason = "SchedulingGated";
  }

  const initByName = new Map<string, Container>();
  for (const c of specInit) {
    initByName.set(c.name, c);
    if (isRestartableInitContainer(c)) totalContainers++;
  }

  let initializing = false;
  const initStatuses = status.initContainerStatuses ?? [];
  for (let i = 0; i < initStatuses.length; i++) {
    const cs = initStatuses[i]!;
    const restartable = isRestartableInitContainer(initByName.get(cs.name));
    restarts += cs.restartCount ?? 0;
    lastRestart = later(lastRestart, lastFinished(cs));
    if (restartable) {
      restartableInitRestarts += cs.restartCount ?? 0;
      lastRestartableInitRestart = later(lastRestartableInitRestart, lastFinished(cs));
    }
    const terminated = cs.state?.terminated;
    const waiting = cs.state?.waiting;
    if (terminated && (terminated.exitCode ?? 0) === 0) continue;
    if (restartable && cs.started === true) {
      if (cs.ready) readyContainers++;
      continue;
    }
    if (terminated) {
      // Initialization failed.
      if (!terminated.reason) {
        reason = terminated.signal ? `Init:Signal:${terminated.signal}` : `Init:ExitCode:${terminated.exitCode ?? 0}`;
      } else {
        reason = `Init:${terminated.reason}`;
      }
    } else if (waiting?.reason && waiting.reason !== "PodInitializing") {
      reason = `Init:${waiting.reason}`;
    } else {
      reason = `Init:${i}/${specInit.length}`;
    }
    initializing = true;
    break;
  }

  if (!initializing || isPodInitialized(conditions)) {
    restarts = restartableInitRestarts;
    lastRestart = lastRestartableInitRestart;
    let hasRunning = false;
    const statuses = status.containerStatuses ?? [];
    // Walked backwards, so the first container with something to say wins.
    for (let i = statuses.length - 1; i >= 0; i--) {
      const cs = statuses[i]!;
      restarts += cs.restartCount ?? 0;
      lastRestart = later(lastRestart, lastFinished(cs));
      const waiting = cs.state?.waiting;
      const terminated = cs.state?.terminated;
      if (waiting?.reason) {
        reason = waiting.reason;
      } else if (terminated?.reason) {
        reason = terminated.reason;
      } else if (terminated) {
        reason = terminated.signal ? `Signal:${terminated.signal}` : `ExitCode:${terminated.exitCode ?? 0}`;
      } else if (cs.ready && cs.state?.running) {
        hasRunning = true;
        readyContainers++;
      }
    }
    // A pod whose last container completed but another still runs is shown by its readiness.
    if (reason === "Completed" && hasRunning) {
      reason = hasPodReadyCondition(conditions) ? "Running" : "NotReady";
    }
  }

  if (pod.metadata?.deletionTimestamp && status.reason === NODE_UNREACHABLE_POD_REASON) {
    reason = "Unknown";
  } else if (pod.metadata?.deletionTimestamp) {
    reason = "Terminating";
  }

  let restartsStr = String(restarts);
  if (restarts !== 0 && lastRestart !== undefined) {
    restartsStr = `${restarts} (${humanDuration(now.getTime() - lastRestart)} ago)`;
  }
  return { ready: `${readyContainers}/${totalContainers}`, reason, restarts: restartsStr };
}

/** PodStatus v1→internal conversion: podIP wins over podIPs[0] when both are set. */
function podIP(pod: Pod): string {
  return pod.status?.podIP || pod.status?.podIPs?.[0]?.ip || "";
}

export const podPrinter: Printer = {
  columns: [
    NAME,
    col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    col("Status", "string", "The aggregate status of the containers in this pod."),
    col(
      "Restarts",
      "string",
      "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    AGE,
    col("IP", "string", DOC.podIP, true),
    col("Node", "string", DOC.nodeName, true),
    col("Nominated Node", "string", DOC.nominatedNodeName, true),
    col("Readiness Gates", "string", DOC.readinessGates, true),
  ],
  print(obj: object, ctx: PrintContext): PrintedRow {
    const pod = obj as Pod;
    const { ready, reason, restarts } = podCells(pod, ctx.now);
    const gates = pod.spec?.readinessGates ?? [];
    let readinessGates = "<none>";
    if (gates.length > 0) {
      let trueConditions = 0;
      for (const g of gates) {
        const c = (pod.status?.conditions ?? []).find((x) => x.type === g.conditionType);
        if (c?.status === "True") trueConditions++;
      }
      readinessGates = `${trueConditions}/${gates.length}`;
    }
    const cells = [
      pod.metadata?.name ?? "",
      ready,
      reason,
      restarts,
      since(pod.metadata?.creationTimestamp, ctx.now),
      podIP(pod) || "<none>",
      pod.spec?.nodeName || "<none>",
      pod.status?.nominatedNodeName || "<none>",
      readinessGates,
    ];
    const phase = pod.status?.phase;
    if (phase === "Succeeded") return { cells, conditions: POD_SUCCEEDED };
    if (phase === "Failed") return { cells, conditions: POD_FAILED };
    return { cells };
  },
};

export const podTemplatePrinter: Printer = {
  columns: [
    NAME,
    col("Containers", "string", "Names of each container in the template."),
    col("Images", "string", "Images referenced by each container in the template."),
    col("Pod Labels", "string", "The labels for the pod template."),
  ],
  print(obj: object): PrintedRow {
    const t = obj as PodTemplate;
    const [names, images] = containerCells(t.template?.spec?.containers);
    return { cells: [t.metadata?.name ?? "", names, images, formatLabels(t.template?.metadata?.labels)] };
  },
};
