/**
 * Metadata-only reads (client-go's metadata client): the server answers
 * `as=PartialObjectMetadata(List)`, so a controller that needs only names,
 * uids, owners and finalizers of every object (the garbage collector) does
 * not hold every pod's spec and status in memory.
 */
import type { ObjectMeta } from "kubernetes-types/meta/v1.js";
import { type ResourceDescriptor, ResourceClient } from "./resource-client.js";
import type { RestClient } from "./rest-client.js";

/** An object's metadata with its type, as the server sends it. */
export interface PartialObjectMetadata {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

const ACCEPT = {
  object: "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
  list: "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
};

/** A client whose get, list and watch return {@link PartialObjectMetadata}; a ListerWatcher for informers. */
export function metadataClient(rest: RestClient, descriptor: ResourceDescriptor, ns?: string): ResourceClient<PartialObjectMetadata> {
  return new ResourceClient<PartialObjectMetadata>(rest, descriptor, ns, ACCEPT);
}
