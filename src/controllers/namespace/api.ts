/** The namespace deleter's API operations over a {@link RestClient}. */
import type { Namespace, Pod } from "kubernetes-types/core/v1.js";
import type { PartialObjectMetadata } from "../../client/metadata-client.js";
import { type KubeList, ResourceClient } from "../../client/resource-client.js";
import { NAMESPACES, PODS } from "../../client/resources.js";
import type { RestClient } from "../../client/rest-client.js";
import { discoverNamespacedResources, type GroupVersionResource } from "./discovery.js";
import type { ContentApi, NamespaceApi } from "./sync.js";

const LIST_ACCEPT = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";

/** Namespace reads and writes through the API. */
export function restNamespaceApi(rest: RestClient): NamespaceApi {
  const namespaces = new ResourceClient<Namespace>(rest, NAMESPACES);
  return {
    get: (name) => namespaces.get(name),
    updateStatus: (ns) => namespaces.updateStatus(ns),
    finalize: (ns) => namespaces.subresource<Namespace>(ns.metadata?.name ?? "", "finalize", ns, { method: "PUT" }),
  };
}

/** Content discovery, listing and deletion through the API (metadata-only lists, as upstream's metadata client). */
export function restContentApi(rest: RestClient): ContentApi {
  const client = (gvr: GroupVersionResource, ns: string) =>
    new ResourceClient<PartialObjectMetadata>(rest, { group: gvr.group, version: gvr.version, resource: gvr.resource, namespaced: true }, ns);
  return {
    discover: () => discoverNamespacedResources(rest),
    // The namespace controller purges everything itself: dependents need no orphaning.
    deleteCollection: (gvr, ns) => client(gvr, ns).deleteCollection({ propagationPolicy: "Background" }),
    async list(gvr, ns) {
      const items: PartialObjectMetadata[] = [];
      const c = client(gvr, ns);
      let cont: string | undefined;
      do {
        const page = await rest.request<KubeList<PartialObjectMetadata>>("GET", c.collectionPath(), {
          query: { limit: 500, continue: cont },
          headers: { Accept: LIST_ACCEPT },
        });
        for (const item of page.items ?? []) items.push(item);
        cont = page.metadata?.continue || undefined;
      } while (cont);
      return items;
    },
    delete: (gvr, ns, name) => client(gvr, ns).delete(name, { propagationPolicy: "Background" }),
    async listPods(ns) {
      return (await new ResourceClient<Pod>(rest, PODS, ns).listAll()).items;
    },
  };
}
