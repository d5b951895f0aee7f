/**
 * The OpenAPI upstream's apiextensions-apiserver publishes for one served
 * version of a CustomResourceDefinition (pkg/controller/openapi/builder
 * `BuildOpenAPIV3` / `BuildOpenAPIV2`, as its v3 and v2 controllers call
 * them): the kind's schema and its list's, named `<reversed group>.<version>.<Kind>`
 * (`com.example.v1.Widget`, `com.example.v1.WidgetList`), and the REST paths
 * (openapi-paths.ts).
 *
 * The kind's schema is the version's openAPIV3Schema as published
 * (openapi-schema.ts) with `metadata` a reference to ObjectMeta, `apiVersion`
 * and `kind` as TypeMeta describes them, the same three fields on
 * `x-kubernetes-embedded-resource` objects, and `x-kubernetes-group-version-kind`.
 * The v2 form goes through `ToStructuralOpenAPIV2` and loses its defaults
 * (openapi-v2-conversion.ts); a schema that preserves unknown fields at the
 * root is published to v2 as a bare `{type: object}`, as upstream does so
 * that kubectl's v2 validation lets unknown fields through.
 */
import type { CustomOpenAPISpec } from "../api/openapi/custom-specs.js";
import type { JsonObject } from "../api/openapi/documents.js";
import { customDefinitionName } from "./custom-resource.js";
import type { CustomResourceDefinition, CustomResourceDefinitionVersion } from "./crd-validation.js";
import { customResourcePaths } from "./openapi-paths.js";
import { forEachSubschema, toKubeOpenAPI, unfold, wrapRefs } from "./openapi-schema.js";
import { pruneDefaults, toStructuralOpenAPIV2 } from "./openapi-v2-conversion.js";

const META = "io.k8s.apimachinery.pkg.apis.meta.v1";
const OBJECT_META = `${META}.ObjectMeta`;
const LIST_META = `${META}.ListMeta`;

/** metav1.PartialObjectMetadata's and metav1beta1.PartialObjectMetadataList's `metadata` docs, which upstream's builder uses. */
const OBJECT_META_DESCRIPTION = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const LIST_META_DESCRIPTION = "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

/** metav1.TypeMeta's fields, as its generated OpenAPI definition has them. */
const TYPE_META_API_VERSION: JsonObject = {
  description:
    "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
  type: "string",
};
const TYPE_META_KIND: JsonObject = {
  description:
    "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
  type: "string",
};
/** The shorter texts upstream gives the TypeMeta fields of embedded resources. */
const EMBEDDED_API_VERSION_DESCRIPTION =
  "apiVersion defines the versioned schema of this representation of an object. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const EMBEDDED_KIND_DESCRIPTION =
  "kind is a string value representing the type of this object. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

const ref = (name: string): string => `#/definitions/${name}`;

function gvkExtension(group: string, version: string, kind: string): JsonObject[] {
  return [{ group, kind, version }];
}

/** The builder's `addEmbeddedProperties`: TypeMeta and ObjectMeta on every `x-kubernetes-embedded-resource` object. */
function addEmbeddedProperties(s: JsonObject, v2: boolean): JsonObject {
  forEachSubschema(s, (sub) => addEmbeddedProperties(sub, v2), false);
  // Adding these to a v2 schema that allows unknown fields would make kubectl's v2 validation reject the unknown ones.
  if (v2 && s["x-kubernetes-preserve-unknown-fields"] === true) return s;
  if (s["x-kubernetes-embedded-resource"] === true) {
    s.properties = {
      ...((s.properties as JsonObject | undefined) ?? {}),
      apiVersion: { ...TYPE_META_API_VERSION, description: EMBEDDED_API_VERSION_DESCRIPTION },
      kind: { ...TYPE_META_KIND, description: EMBEDDED_KIND_DESCRIPTION },
      metadata: { $ref: ref(OBJECT_META), description: OBJECT_META_DESCRIPTION },
    };
    const required = Array.isArray(s.required) ? [...s.required] : [];
    if (!required.includes("kind")) required.push("kind");
    if (!required.includes("apiVersion")) required.push("apiVersion");
    s.required = required;
  }
  return s;
}

/** The builder's `buildKubeNative`: the kind's schema, refs in v2 spelling. */
function kubeNative(crd: CustomResourceDefinition, v: CustomResourceDefinitionVersion, v2: boolean): JsonObject {
  const schema = v.schema?.openAPIV3Schema;
  let ret: JsonObject;
  const preserveAtRoot = schema?.["x-kubernetes-preserve-unknown-fields"] === true || crd.spec.preserveUnknownFields === true;
  if (!schema || (v2 && preserveAtRoot)) {
    // Without properties kubectl would (wrongly) assume no field but apiVersion, kind and metadata is allowed.
    ret = { type: "object" };
  } else {
    let published = unfold(toKubeOpenAPI(schema));
    if (v2) published = toStructuralOpenAPIV2(published);
    ret = published;
    ret.properties = {
      ...((ret.properties as JsonObject | undefined) ?? {}),
      metadata: { $ref: ref(OBJECT_META), description: OBJECT_META_DESCRIPTION },
      apiVersion: { ...TYPE_META_API_VERSION },
      kind: { ...TYPE_META_KIND },
    };
    addEmbeddedProperties(ret, v2);
  }
  ret["x-kubernetes-group-version-kind"] = gvkExtension(crd.spec.group, v.name, crd.spec.names.kind);
  return ret;
}

/** The builder's `buildListSchema`. */
function listSchema(crd: CustomResourceDefinition, v: CustomResourceDefinitionVersion, definition: string, listKind: string): JsonObject {
  const { kind, plural } = crd.spec.names;
  return {
    description: `${listKind} is a list of ${kind}`,
    properties: {
      apiVersion: { ...TYPE_META_API_VERSION },
      items: {
        description: `List of ${plural}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md`,
        items: { $ref: ref(definition) },
        type: "array",
      },
      kind: { ...TYPE_META_KIND },
      metadata: { $ref: ref(LIST_META), description: LIST_META_DESCRIPTION },
    },
    required: ["items"],
    type: "object",
    "x-kubernetes-group-version-kind": gvkExtension(crd.spec.group, v.name, listKind),
  };
}

/** A schema written with v2 refs, in v3 spelling (`#/components/schemas/`, refs with siblings wrapped in allOf). */
function toV3(s: JsonObject): JsonObject {
  const respell = (x: JsonObject): JsonObject => {
    if (typeof x.$ref === "string") x.$ref = x.$ref.replace("#/definitions/", "#/components/schemas/");
    forEachSubschema(x, respell);
    return x;
  };
  return wrapRefs(respell(s));
}

/** The OpenAPI of one served version of `crd`, for the API server to publish. */
export function customResourceOpenAPI(crd: CustomResourceDefinition, v: CustomResourceDefinitionVersion): CustomOpenAPISpec {
  const { group, names, scope } = crd.spec;
  const listKind = names.listKind ?? `${names.kind}List`;
  const definition = customDefinitionName(group, v.name, names.kind);
  const listDefinition = customDefinitionName(group, v.name, listKind);
  const v3Kind = kubeNative(crd, v, false);
  const v2Kind = pruneDefaults(kubeNative(crd, v, true));
  return {
    groupVersion: `apis/${group}/${v.name}`,
    paths: customResourcePaths({
      group,
      version: v.name,
      kind: names.kind,
      listKind,
      plural: names.plural,
      namespaced: scope === "Namespaced",
      status: !!v.subresources?.status,
      scale: !!v.subresources?.scale,
      definition,
      listDefinition,
    }),
    definitions: { [definition]: v2Kind, [listDefinition]: listSchema(crd, v, definition, listKind) },
    schemas: { [definition]: toV3(v3Kind), [listDefinition]: toV3(listSchema(crd, v, definition, listKind)) },
  };
}
