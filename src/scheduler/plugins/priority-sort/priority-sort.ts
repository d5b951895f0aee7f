/** PrioritySort (plugins/queuesort): activeQ by priority, highest first, then by queue timestamp. */
import { podPriority, type QueuedPodInfo } from "../../framework/pod-info.js";
import type { PluginRegistration } from "../../framework/registry.js";
import type { QueueSortPlugin } from "../../framework/types.js";
import { Names } from "../names.js";

export class PrioritySort implements QueueSortPlugin {
  readonly name = Names.PrioritySort;

  less(a: QueuedPodInfo, b: QueuedPodInfo): boolean {
    const p1 = podPriority(a.pod);
    const p2 = podPriority(b.pod);
    return p1 > p2 || (p1 === p2 && a.timestamp < b.timestamp);
  }
}

export const prioritySortRegistration: PluginRegistration = { factory: () => new PrioritySort() };
