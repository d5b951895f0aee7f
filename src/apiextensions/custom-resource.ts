/**
 * What a CustomResourceDefinition version turns into when served: a
 * ResourceType for routing and discovery, and a Strategy that prunes,
 * defaults and validates objects against the version's schema.
 */
import type { ResourceType, Subresource, Verb } from "../api/resources.js";
import { ALL_VERBS } from "../api/resources.js";
import type { KObject, Strategy } from "../apiserver/registry/types.js";
import type { CustomResourceDefinition, CustomResourceDefinitionVersion } from "./crd-validation.js";
import { applyDefaults, type JSONSchemaProps, pruneUnknownFields, validateCustomResource } from "./structural-schema.js";

/** The OpenAPI-style definition name of a custom kind: reversed group, version, kind. */
export function customDefinitionName(group: string, version: string, kind: string): string {
  return `${group.split(".").reverse().join(".")}.${version}.${kind}`;
}

/** The ResourceType one served version of a CRD is routed and discovered as. */
export function customResourceType(crd: CustomResourceDefinition, v: CustomResourceDefinitionVersion): ResourceType {
  const { group, names, scope } = crd.spec;
  const subresources: Subresource[] = [];
  if (v.subresources?.status) subresources.push({ name: "status", verbs: ["get", "patch", "update"] });
  if (v.subresources?.scale) {
    subresources.push({ name: "scale", verbs: ["get", "patch", "update"], kind: { group: "autoscaling", version: "v1", kind: "Scale" } });
  }
  return {
    group,
    version: v.name,
    kind: names.kind,
    plural: names.plural,
    singular: names.singular ?? names.kind.toLowerCase(),
    namespaced: scope === "Namespaced",
    verbs: ALL_VERBS as Verb[],
    ...(names.shortNames?.length ? { shortNames: names.shortNames } : {}),
    ...(names.categories?.length ? { categories: names.categories } : {}),
    ...(subresources.length ? { subresources } : {}),
    definition: customDefinitionName(group, v.name, names.kind),
    custom: { printerColumns: v.additionalPrinterColumns ?? [] },
  };
}

/** Strips the root fields every object has before checking the rest against the schema. */
function schemaOf(v: CustomResourceDefinitionVersion): JSONSchemaProps {
  return v.schema?.openAPIV3Schema ?? { type: "object", "x-kubernetes-preserve-unknown-fields": true };
}

/** Create/update behaviour of custom resources of one version, as upstream's customresource strategy. */
export function customResourceStrategy(v: CustomResourceDefinitionVersion): Strategy {
  const schema = schemaOf(v);
  const hasStatus = !!v.subresources?.status;
  return {
    tracksGeneration: true,
    prepareForCreate(o) {
      if (hasStatus) delete o.status;
    },
    defaults(o: KObject) {
      // Unknown fields are dropped, then defaults filled, as upstream decodes custom resources.
      pruneUnknownFields(o, schema);
      applyDefaults(o, schema);
    },
    validateCreate: (o) => validateCustomResource(o, schema),
    validateUpdate: (o) => validateCustomResource(o, schema),
    unknownFields(o) {
      return pruneUnknownFields(structuredClone(o), schema);
    },
  };
}
