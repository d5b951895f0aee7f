/** How CustomResourceDefinition objects themselves are defaulted and validated. */
import type { KObject, Strategy } from "../apiserver/registry/types.js";
import { type CustomResourceDefinition, defaultCRD, validateCRD, validateCRDUpdate } from "./crd-validation.js";

/** Held on every CRD until its custom resources are gone, as upstream. */
export const CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io";

/** True when the CRD's Established condition is True. */
export function isEstablished(crd: KObject): boolean {
  const conditions = ((crd.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []);
  return conditions.some((c) => c.type === "Established" && c.status === "True");
}

export const crdStrategy: Strategy = {
  tracksGeneration: true,
  prepareForCreate(o) {
    delete o.status;
    const finalizers = o.metadata!.finalizers ?? [];
    if (!finalizers.includes(CLEANUP_FINALIZER)) o.metadata!.finalizers = [...finalizers, CLEANUP_FINALIZER];
  },
  defaults(o) {
    defaultCRD(o);
  },
  validateCreate: (o) => validateCRD(o as unknown as CustomResourceDefinition),
  validateUpdate: (o, old) => validateCRDUpdate(o as unknown as CustomResourceDefinition, old, isEstablished(old)),
};
