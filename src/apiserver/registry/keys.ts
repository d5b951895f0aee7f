/**
 * Where objects live in the store: `/registry/<resource>/<namespace>/<name>`
 * as upstream lays out etcd, including its historical names (nodes under
 * `minions`, services under `services/specs`), so `etcdctl get --prefix
 * /registry` looks familiar.
 */
import { servedGroups } from "../../api/resources.js";

const STORAGE_NAMES: Record<string, string> = {
  "/nodes": "minions",
  "/services": "services/specs",
  "/endpoints": "services/endpoints",
  "apiextensions.k8s.io/customresourcedefinitions": "apiextensions.k8s.io/customresourcedefinitions",
  "events.k8s.io/events": "events",
  "networking.k8s.io/ingresses": "ingress",
  "networking.k8s.io/ingressclasses": "ingressclasses",
  "autoscaling/horizontalpodautoscalers": "horizontalpodautoscalers",
  "discovery.k8s.io/endpointslices": "endpointslices",
};

/** Groups of built-in kinds; anything else is a custom resource, stored under its group as upstream. */
const BUILTIN_GROUPS = new Set(servedGroups());

/** Prefix of every object of a resource (all namespaces), ending in "/". */
export function resourcePrefix(group: string, plural: string): string {
  if (!BUILTIN_GROUPS.has(group)) return `/registry/${group}/${plural}/`;
  return `/registry/${STORAGE_NAMES[`${group}/${plural}`] ?? plural}/`;
}

/** Prefix of a resource's objects in one namespace (or all, when ns is empty). */
export function collectionPrefix(group: string, plural: string, namespace: string | undefined): string {
  const base = resourcePrefix(group, plural);
  return namespace ? `${base}${namespace}/` : base;
}

/** Key of one object. */
export function objectKey(group: string, plural: string, namespace: string | undefined, name: string): string {
  return `${collectionPrefix(group, plural, namespace)}${name}`;
}
