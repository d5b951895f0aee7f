/** The in-tree plugin names (plugins/names/names.go). */
export const Names = {
  PrioritySort: "PrioritySort",
  DefaultBinder: "DefaultBinder",
  DefaultPreemption: "DefaultPreemption",
  DynamicResources: "DynamicResources",
  ImageLocality: "ImageLocality",
  InterPodAffinity: "InterPodAffinity",
  NodeAffinity: "NodeAffinity",
  NodeName: "NodeName",
  NodePorts: "NodePorts",
  NodeResourcesBalancedAllocation: "NodeResourcesBalancedAllocation",
  NodeResourcesFit: "NodeResourcesFit",
  NodeUnschedulable: "NodeUnschedulable",
  NodeVolumeLimits: "NodeVolumeLimits",
  AzureDiskLimits: "AzureDiskLimits",
  CinderLimits: "CinderLimits",
  EBSLimits: "EBSLimits",
  GCEPDLimits: "GCEPDLimits",
  PodTopologySpread: "PodTopologySpread",
  SchedulingGates: "SchedulingGates",
  TaintToleration: "TaintToleration",
  VolumeBinding: "VolumeBinding",
  VolumeRestrictions: "VolumeRestrictions",
  VolumeZone: "VolumeZone",
} as const;

/** Every upstream in-tree plugin name. */
export const UPSTREAM_PLUGIN_NAMES: ReadonlySet<string> = new Set(Object.values(Names));
