/**
 * Discovery as the namespace controller needs it (client-go's
 * `ServerPreferredNamespacedResources`): the preferred version of every
 * group's namespaced resources, subresources left out. Unlike
 * `discoverPreferredResources` it reports the groups that failed, because
 * upstream turns them into the `NamespaceDeletionDiscoveryFailure`
 * condition while still deleting what it could discover.
 */
import type { APIGroupList, APIResourceList } from "kubernetes-types/meta/v1.js";
import type { RestClient } from "../../client/rest-client.js";
import { GroupDiscoveryFailedError } from "./conditions.js";

/** One discovered resource. */
export interface NamespacedResource {
  readonly name: string;
  readonly kind: string;
  readonly verbs: readonly string[];
}

/** The resources of one group/version, as an `APIResourceList`. */
export interface ResourceList {
  /** `v1` for the core group, else `group/version`. */
  readonly groupVersion: string;
  readonly resources: readonly NamespacedResource[];
}

/** What discovery found, and the groups it could not read. */
export interface DiscoveryResult {
  readonly lists: ResourceList[];
  /** Set when some groups failed; the lists still hold the others. */
  readonly error?: GroupDiscoveryFailedError;
}

async function resourceList(rest: RestClient, path: string, groupVersion: string): Promise<ResourceList> {
  const list = await rest.request<APIResourceList>("GET", path);
  const resources = (list.resources ?? [])
    .filter((r) => r.namespaced && !r.name.includes("/"))
    .map((r) => ({ name: r.name, kind: r.kind, verbs: r.verbs ?? [] }));
  return { groupVersion, resources };
}

/**
 * The preferred namespaced resources of every group. A failure to list the
 * groups at all rejects; a group whose resources cannot be read is
 * reported in `error` and skipped.
 */
export async function discoverNamespacedResources(rest: RestClient): Promise<DiscoveryResult> {
  const failed = new Map<string, Error>();
  const lists: ResourceList[] = [];
  const groups = await rest.request<APIGroupList>("GET", "/apis");
  const targets: { path: string; gv: string }[] = [{ path: "/api/v1", gv: "v1" }];
  for (const g of groups.groups ?? []) {
    const v = g.preferredVersion?.groupVersion ?? g.versions[0]?.groupVersion;
    if (v) targets.push({ path: `/apis/${v}`, gv: v });
  }
  const results = await Promise.all(
    targets.map(async (t) => {
      try {
        return await resourceList(rest, t.path, t.gv);
      } catch (err) {
        failed.set(t.gv, err as Error);
        return undefined;
      }
    }),
  );
  for (const r of results) if (r) lists.push(r);
  return failed.size > 0 ? { lists, error: new GroupDiscoveryFailedError(failed) } : { lists };
}

/** A group/version/resource. */
export interface GroupVersionResource {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
}

/**
 * Parses a groupVersion as apimachinery's `ParseGroupVersion` does:
 * `v1` → core, `group/version`, anything with more slashes is an error.
 */
export function parseGroupVersion(gv: string): { group: string; version: string } {
  if (gv === "" || gv === "/") return { group: "", version: "" };
  const parts = gv.split("/");
  if (parts.length === 1) return { group: "", version: parts[0]! };
  if (parts.length === 2) return { group: parts[0]!, version: parts[1]! };
  throw new Error(`unexpected GroupVersion string: ${gv}`);
}

/** A GVR as Go's `schema.GroupVersionResource.String()` prints it: `apps/v1, Resource=deployments`. */
export function formatGVR(gvr: GroupVersionResource): string {
  return `${gvr.group}/${gvr.version}, Resource=${gvr.resource}`;
}
