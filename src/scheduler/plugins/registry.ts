/**
 * The in-tree plugin registry (plugins/registry.go NewInTreeRegistry): every
 * plugin skiff implements, by name. Not here: the volume-limit plugins
 * (NodeVolumeLimits, EBSLimits, GCEPDLimits, AzureDiskLimits) and
 * VolumeZone, which the default configuration names — build the default
 * profile with skipUnregisteredPlugins to leave them out.
 */
import type { Registry } from "../framework/registry.js";
import { defaultBinderRegistration } from "./default-binder/default-binder.js";
import { defaultPreemptionRegistration } from "./default-preemption/default-preemption.js";
import { imageLocalityRegistration } from "./image-locality/image-locality.js";
import { interPodAffinityRegistration } from "./inter-pod-affinity/inter-pod-affinity.js";
import { Names } from "./names.js";
import { nodeAffinityRegistration } from "./node-affinity/node-affinity.js";
import { nodeNameRegistration } from "./node-name/node-name.js";
import { nodePortsRegistration } from "./node-ports/node-ports.js";
import { balancedAllocationRegistration } from "./node-resources-balanced-allocation/balanced-allocation.js";
import { nodeResourcesFitRegistration } from "./node-resources-fit/fit.js";
import { nodeUnschedulableRegistration } from "./node-unschedulable/node-unschedulable.js";
import { podTopologySpreadRegistration } from "./pod-topology-spread/pod-topology-spread.js";
import { prioritySortRegistration } from "./priority-sort/priority-sort.js";
import { schedulingGatesRegistration } from "./scheduling-gates/scheduling-gates.js";
import { taintTolerationRegistration } from "./taint-toleration/taint-toleration.js";
import { volumeBindingRegistration } from "./volume-binding/volume-binding.js";
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
    [Names.VolumeBinding, volumeBindingRegistration],
    [Names.PodTopologySpread, podTopologySpreadRegistration],
    [Names.InterPodAffinity, interPodAffinityRegistration],
    [Names.DefaultPreemption, defaultPreemptionRegistration],
    [Names.NodeResourcesBalancedAllocation, balancedAllocationRegistration],
    [Names.ImageLocality, imageLocalityRegistration],
    [Names.DefaultBinder, defaultBinderRegistration],
  ]);
}
