/**
 * The in-tree plugin registry (plugins/registry.go NewInTreeRegistry): every
 * plugin skiff implements, by name. InterPodAffinity, PodTopologySpread,
 * VolumeBinding, DefaultPreemption (and the volume-limit plugins) are not
 * here yet: add their registrations to this map when they land; the default
 * configuration already names them.
 */
import type { Registry } from "../framework/registry.js";
import { defaultBinderRegistration } from "./default-binder/default-binder.js";
import { imageLocalityRegistration } from "./image-locality/image-locality.js";
import { Names } from "./names.js";
import { nodeAffinityRegistration } from "./node-affinity/node-affinity.js";
import { nodeNameRegistration } from "./node-name/node-name.js";
import { nodePortsRegistration } from "./node-ports/node-ports.js";
import { balancedAllocationRegistration } from "./node-resources-balanced-allocation/balanced-allocation.js";
import { nodeResourcesFitRegistration } from "./node-resources-fit/fit.js";
import { nodeUnschedulableRegistration } from "./node-unschedulable/node-unschedulable.js";
import { prioritySortRegistration } from "./priority-sort/priority-sort.js";
import { schedulingGatesRegistration } from "./scheduling-gates/scheduling-gates.js";
import { taintTolerationRegistration } from "./taint-toleration/taint-toleration.js";
import { volumeRestrictionsRegistration } from "./volume-restrictions/volume-restrictions.js";

/** A fresh registry of the in-tree plugins (callers may add their own). */
export function newInTreeRegistry(): Registry {
  return new Map([
    [Names.SchedulingGates, schedulingGatesRegistration],
    [Names.PrioritySort, prioritySortRegistration],
    [Names.NodeUnschedulable, nodeUnschedulableRegistration],
    [Names.NodeName, nodeNameRegistration],
    [Names.TaintToleration, taintTolerationRegistration],
    [Names.NodeAffinity, nodeAffinityRegistration],
    [Names.NodePorts, nodePortsRegistration],
    [Names.NodeResourcesFit, nodeResourcesFitRegistration],
    [Names.VolumeRestrictions, volumeRestrictionsRegistration],
    [Names.NodeResourcesBalancedAllocation, balancedAllocationRegistration],
    [Names.ImageLocality, imageLocalityRegistration],
    [Names.DefaultBinder, defaultBinderRegistration],
  ]);
}
