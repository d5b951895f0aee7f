/**
 * The calls the HPA controller makes, behind one interface so unit tests
 * can fake them: the scale subresource of the target (found by its group
 * and kind through discovery, as upstream's RESTMapper does, so custom
 * resources with a scale subresource work too) and the HPA's status.
 */
import type { Scale } from "kubernetes-types/autoscaling/v1.js";
import type { HorizontalPodAutoscaler } from "kubernetes-types/autoscaling/v2.js";
import { discoverPreferredResources, type DiscoveredResource } from "../../client/discovery.js";
import { ResourceClient, type ResourceDescriptor } from "../../client/resource-client.js";
import type { RestClient } from "../../client/rest-client.js";
import { type Clock, systemClock } from "../../machinery/clock.js";

/** autoscaling/v2 `horizontalpodautoscalers`. */
export const HORIZONTAL_POD_AUTOSCALERS: ResourceDescriptor = Object.freeze({
  group: "autoscaling",
  version: "v2",
  resource: "horizontalpodautoscalers",
  kind: "HorizontalPodAutoscaler",
  namespaced: true,
});

/** What the HPA controller asks of the API server. */
export interface HpaApi {
  /**
   * The resources serving `kind` in `group` (upstream's RESTMappings);
   * throws `no matches for kind "K" in group "G"` when there are none.
   */
  resourcesFor(group: string, kind: string): Promise<readonly ResourceDescriptor[]>;
  getScale(resource: ResourceDescriptor, namespace: string, name: string): Promise<Scale>;
  updateScale(resource: ResourceDescriptor, namespace: string, scale: Scale): Promise<Scale>;
  updateStatus(hpa: HorizontalPodAutoscaler): Promise<HorizontalPodAutoscaler>;
}

/** How long discovery answers are reused before a miss triggers a fresh look (the deferred mapper's reset). */
const DISCOVERY_TTL_MS = 30_000;

/** {@link HpaApi} over REST. */
export function restHpaApi(rest: RestClient, clock: Clock = systemClock): HpaApi {
  const hpas = new ResourceClient<HorizontalPodAutoscaler>(rest, HORIZONTAL_POD_AUTOSCALERS);
  let cache: { at: number; resources: readonly DiscoveredResource[] } | undefined;
  const lookup = (resources: readonly DiscoveredResource[], group: string, kind: string) => resources.filter((r) => r.group === group && r.kind === kind);
  return {
    async resourcesFor(group, kind) {
      let found = cache ? lookup(cache.resources, group, kind) : [];
      if (found.length === 0 && (!cache || clock.now() - cache.at > DISCOVERY_TTL_MS || cache.resources.length === 0)) {
        cache = { at: clock.now(), resources: await discoverPreferredResources(rest) };
        found = lookup(cache.resources, group, kind);
      }
      if (found.length === 0) throw new Error(`no matches for kind "${kind}" in group "${group}"`);
      return found;
    },
    getScale: (r, ns, name) => new ResourceClient(rest, r, ns).getSubresource<Scale>(name, "scale"),
    updateScale: (r, ns, scale) => new ResourceClient(rest, r, ns).subresource<Scale>(scale.metadata?.name ?? "", "scale", scale, { method: "PUT" }),
    updateStatus: (hpa) => hpas.namespace(hpa.metadata?.namespace ?? "").updateStatus(hpa),
  };
}
