/**
 * Which Ingresses skiff's controller serves, by upstream's rules:
 * - `spec.ingressClassName` names an IngressClass whose `spec.controller`
 *   is skiff's (`skiff.io/ingress`);
 * - else the deprecated `kubernetes.io/ingress.class` annotation names
 *   skiff's class (`skiff`), as ingress-nginx compares it with its own
 *   class name;
 * - else (no class at all) when an IngressClass of skiff's controller is
 *   the cluster's default (`ingressclass.kubernetes.io/is-default-class:
 *   "true"`), the rule the DefaultIngressClass admission plugin applies to
 *   new Ingresses and controllers apply to old ones.
 */
import type { Ingress, IngressClass } from "kubernetes-types/networking/v1.js";

/** The IngressClass skiff creates. */
export const INGRESS_CLASS_NAME = "skiff";
/** `spec.controller` of skiff's IngressClass. */
export const INGRESS_CONTROLLER_NAME = "skiff.io/ingress";
/** Marks an IngressClass as the cluster's default. */
export const DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class";
/** The class annotation of Ingresses from before `spec.ingressClassName`. */
export const LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class";

/** The IngressClass created at start (the cluster default, as k3s' Traefik class is). */
export function skiffIngressClass(): IngressClass {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "IngressClass",
    metadata: { name: INGRESS_CLASS_NAME, annotations: { [DEFAULT_CLASS_ANNOTATION]: "true" } },
    spec: { controller: INGRESS_CONTROLLER_NAME },
  };
}

/** Whether `ing` is served by skiff's controller, given the IngressClasses now in the cluster. */
export function isOurs(ing: Ingress, classes: readonly IngressClass[]): boolean {
  const className = ing.spec?.ingressClassName;
  if (className) return classes.some((c) => c.metadata?.name === className && c.spec?.controller === INGRESS_CONTROLLER_NAME);
  const legacy = ing.metadata?.annotations?.[LEGACY_CLASS_ANNOTATION];
  if (legacy !== undefined && legacy !== "") return legacy === INGRESS_CLASS_NAME;
  return classes.some((c) => c.spec?.controller === INGRESS_CONTROLLER_NAME && c.metadata?.annotations?.[DEFAULT_CLASS_ANNOTATION] === "true");
}
