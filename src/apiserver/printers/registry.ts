/**
 * Which printer serves which resource, keyed as "plural" for the core group
 * and "plural.group" otherwise. Resources not listed (roles, clusterroles,
 * limitranges, customresourcedefinitions, …) use the default printer, as
 * their upstream REST storage uses rest.NewDefaultTableConvertor.
 */
import { cronJobPrinter, jobPrinter } from "./batch.js";
import { defaultPrinter } from "./default.js";
import { eventPrinter, eventsV1Printer } from "./events.js";
import {
  clusterRoleBindingPrinter,
  configMapPrinter,
  horizontalPodAutoscalerPrinter,
  leasePrinter,
  mutatingWebhookPrinter,
  namespacePrinter,
  podDisruptionBudgetPrinter,
  priorityClassPrinter,
  resourceQuotaPrinter,
  roleBindingPrinter,
  runtimeClassPrinter,
  secretPrinter,
  serviceAccountPrinter,
  validatingWebhookPrinter,
} from "./misc.js";
import { nodePrinter } from "./nodes.js";
import { podPrinter, podTemplatePrinter } from "./pods.js";
import { endpointSlicePrinter, endpointsPrinter, ingressClassPrinter, ingressPrinter, networkPolicyPrinter, servicePrinter } from "./services.js";
import { persistentVolumeClaimPrinter, persistentVolumePrinter, storageClassPrinter } from "./storage.js";
import type { Printer } from "./types.js";
import {
  controllerRevisionPrinter,
  daemonSetPrinter,
  deploymentPrinter,
  replicaSetPrinter,
  replicationControllerPrinter,
  statefulSetPrinter,
} from "./workloads.js";

const PRINTERS: ReadonlyMap<string, Printer> = new Map<string, Printer>([
  // core
  ["pods", podPrinter],
  ["podtemplates", podTemplatePrinter],
  ["namespaces", namespacePrinter],
  ["nodes", nodePrinter],
  ["services", servicePrinter],
  ["endpoints", endpointsPrinter],
  ["configmaps", configMapPrinter],
  ["secrets", secretPrinter],
  ["serviceaccounts", serviceAccountPrinter],
  ["events", eventPrinter],
  ["persistentvolumes", persistentVolumePrinter],
  ["persistentvolumeclaims", persistentVolumeClaimPrinter],
  ["replicationcontrollers", replicationControllerPrinter],
  ["resourcequotas", resourceQuotaPrinter],
  // apps
  ["deployments.apps", deploymentPrinter],
  ["replicasets.apps", replicaSetPrinter],
  ["statefulsets.apps", statefulSetPrinter],
  ["daemonsets.apps", daemonSetPrinter],
  ["controllerrevisions.apps", controllerRevisionPrinter],
  // batch
  ["jobs.batch", jobPrinter],
  ["cronjobs.batch", cronJobPrinter],
  // networking, discovery
  ["ingresses.networking.k8s.io", ingressPrinter],
  ["ingressclasses.networking.k8s.io", ingressClassPrinter],
  ["networkpolicies.networking.k8s.io", networkPolicyPrinter],
  ["endpointslices.discovery.k8s.io", endpointSlicePrinter],
  // events.k8s.io shares the core Event printer
  ["events.events.k8s.io", eventsV1Printer],
  // storage
  ["storageclasses.storage.k8s.io", storageClassPrinter],
  // others
  ["leases.coordination.k8s.io", leasePrinter],
  ["priorityclasses.scheduling.k8s.io", priorityClassPrinter],
  ["poddisruptionbudgets.policy", podDisruptionBudgetPrinter],
  ["horizontalpodautoscalers.autoscaling", horizontalPodAutoscalerPrinter],
  ["rolebindings.rbac.authorization.k8s.io", roleBindingPrinter],
  ["clusterrolebindings.rbac.authorization.k8s.io", clusterRoleBindingPrinter],
  ["mutatingwebhookconfigurations.admissionregistration.k8s.io", mutatingWebhookPrinter],
  ["validatingwebhookconfigurations.admissionregistration.k8s.io", validatingWebhookPrinter],
  ["runtimeclasses.node.k8s.io", runtimeClassPrinter],
]);

/** The printer of a resource ("pods", "deployments.apps"); the default printer when none is registered. */
export function printerFor(resource: string): Printer {
  return PRINTERS.get(resource) ?? defaultPrinter;
}

/** True when the resource has its own (non-default) printer. */
export function hasPrinter(resource: string): boolean {
  return PRINTERS.has(resource);
}

/** Every resource with its own printer. */
export function printedResources(): string[] {
  return [...PRINTERS.keys()];
}
