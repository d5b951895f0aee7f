/**
 * Discovery as client-go's `ServerPreferredResources`: every group's
 * preferred version and the resources it serves (subresources excluded),
 * read from `/api/v1` and `/apis`. Controllers that act on every kind (the
 * garbage collector, namespace deletion) use it to learn what exists,
 * custom resources included, and to map an ownerReference's kind to a
 * resource.
 */
import type { APIGroupList, APIResourceList } from "kubernetes-types/meta/v1.js";
import type { ResourceDescriptor } from "./resource-client.js";
import type { RestClient } from "./rest-client.js";

/** One discovered resource: where it lives and what may be done to it. */
export interface DiscoveredResource extends ResourceDescriptor {
  readonly kind: string;
  readonly verbs: readonly string[];
}

async function resourcesOf(rest: RestClient, path: string, group: string, version: string): Promise<DiscoveredResource[]> {
  const list = await rest.request<APIResourceList>("GET", path);
  return (list.resources ?? [])
    .filter((r) => !r.name.includes("/"))
    .map((r) => ({ group, version, resource: r.name, kind: r.kind, namespaced: r.namespaced, verbs: r.verbs ?? [] }));
}

/**
 * The preferred version of every group's resources. A group whose
 * discovery fails (an unavailable aggregated API upstream; a CRD just
 * removed here) is skipped rather than failing the whole answer.
 */
export async function discoverPreferredResources(rest: RestClient): Promise<DiscoveredResource[]> {
  const out = await resourcesOf(rest, "/api/v1", "", "v1");
  const groups = await rest.request<APIGroupList>("GET", "/apis");
  const lists = await Promise.all(
    (groups.groups ?? []).map(async (g) => {
      const v = g.preferredVersion?.version ?? g.versions[0]?.version;
      if (!v) return [];
      try {
        return await resourcesOf(rest, `/apis/${g.name}/${v}`, g.name, v);
      } catch {
        return [];
      }
    }),
  );
  for (const l of lists) out.push(...l);
  return out;
}

/** Maps `apiVersion` + `kind` (as in an ownerReference) to a discovered resource. */
export class ResourceMapper {
  private readonly byGvk = new Map<string, DiscoveredResource>();
  private readonly byGk = new Map<string, DiscoveredResource>();

  constructor(resources: readonly DiscoveredResource[]) {
    for (const r of resources) {
      this.byGvk.set(`${r.group}/${r.version}/${r.kind}`, r);
      this.byGk.set(`${r.group}/${r.kind}`, r);
    }
  }

  /**
   * The resource of `kind` in `apiVersion`'s group. An apiVersion that is
   * not the preferred one still maps (to the preferred version's resource:
   * names and scope are the same across versions of a group).
   */
  lookup(apiVersion: string, kind: string): DiscoveredResource | undefined {
    const slash = apiVersion.indexOf("/");
    const group = slash < 0 ? "" : apiVersion.slice(0, slash);
    const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
    const exact = this.byGvk.get(`${group}/${version}/${kind}`);
    if (exact) return exact;
    const r = this.byGk.get(`${group}/${kind}`);
    return r ? { ...r, version } : undefined;
  }
}
