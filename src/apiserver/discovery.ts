/**
 * API discovery documents: legacy (`/api`, `/apis`, `/apis/G`, `/api/v1`,
 * `/apis/G/V`) and aggregated (`apidiscovery.k8s.io` v2 and v2beta1), built
 * from the resource catalog as upstream shapes them.
 */
import { createHash } from "node:crypto";
import { apiVersionOf, type ResourceType } from "../api/resources.js";
import { METRICS_GROUP } from "./metrics/resources.js";

/** The resources a discovery document covers; built-ins now, CRDs later. */
export interface DiscoverySource {
  resources(): readonly ResourceType[];
}

/** Upstream's storageVersionHash: first 8 bytes of sha256("group/version/kind"), base64. */
function storageVersionHash(r: ResourceType): string {
  return createHash("sha256").update(`${r.group}/${r.version}/${r.kind}`).digest().subarray(0, 8).toString("base64");
}

function groupsOf(resources: readonly ResourceType[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const r of resources) {
    const vs = groups.get(r.group) ?? [];
    if (!vs.includes(r.version)) vs.push(r.version);
    groups.set(r.group, vs);
  }
  return groups;
}

export function apiVersions(serverAddress: string): object {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

function apiGroup(name: string, versions: string[]): object {
  const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: vs, preferredVersion: vs[0] };
}

export function apiGroupList(src: DiscoverySource): object {
  const groups = [...groupsOf(src.resources())].filter(([g]) => g !== "").map(([g, vs]) => apiGroup(g, vs));
  return { kind: "APIGroupList", apiVersion: "v1", groups };
}

export function apiGroupDoc(src: DiscoverySource, group: string): object | undefined {
  const vs = groupsOf(src.resources()).get(group);
  if (!vs || group === "") return undefined;
  return { kind: "APIGroup", apiVersion: "v1", ...apiGroup(group, vs) };
}

export function apiResourceList(src: DiscoverySource, group: string, version: string): object | undefined {
  const rs = src.resources().filter((r) => r.group === group && r.version === version);
  if (rs.length === 0) return undefined;
  const resources: object[] = [];
  for (const r of rs) {
    resources.push({
      name: r.plural,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.verbs,
      ...(r.shortNames ? { shortNames: r.shortNames } : {}),
      ...(r.categories ? { categories: r.categories } : {}),
      // metrics.k8s.io is computed, never stored: no storage version (as metrics-server's discovery).
      ...(r.group === METRICS_GROUP ? {} : { storageVersionHash: storageVersionHash(r) }),
    });
    for (const s of r.subresources ?? []) {
      resources.push({
        name: `${r.plural}/${s.name}`,
        singularName: "",
        namespaced: r.namespaced,
        ...(s.kind ? { group: s.kind.group, version: s.kind.version } : {}),
        kind: s.kind?.kind ?? r.kind,
        verbs: s.verbs,
      });
    }
  }
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion: apiVersionOf({ group, version }), resources };
}

/**
 * Aggregated discovery for `/api` (core only) or `/apis` (every group), in
 * apidiscovery.k8s.io `version` (v2 or v2beta1: same shape).
 */
export function aggregatedDiscovery(src: DiscoverySource, root: "api" | "apis", version: "v2" | "v2beta1"): object {
  const all = src.resources().filter((r) => (root === "api" ? r.group === "" : r.group !== ""));
  const items: object[] = [];
  for (const [group, versions] of groupsOf(all)) {
    items.push({
      metadata: group ? { name: group, creationTimestamp: null } : { creationTimestamp: null },
      versions: versions.map((v) => ({
        version: v,
        resources: all
          .filter((r) => r.group === group && r.version === v)
          .map((r) => ({
            resource: r.plural,
            responseKind: { group: r.group, version: r.version, kind: r.kind },
            scope: r.namespaced ? "Namespaced" : "Cluster",
            singularResource: r.singular,
            verbs: r.verbs,
            ...(r.shortNames ? { shortNames: r.shortNames } : {}),
            ...(r.categories ? { categories: r.categories } : {}),
            ...(r.subresources?.length
              ? {
                  subresources: r.subresources.map((s) => ({
                    subresource: s.name,
                    responseKind: s.kind ?? { group: r.group, version: r.version, kind: r.kind },
                    verbs: s.verbs,
                  })),
                }
              : {}),
          })),
        freshness: "Current",
      })),
    });
  }
  return { kind: "APIGroupDiscoveryList", apiVersion: `apidiscovery.k8s.io/${version}`, metadata: {}, items };
}
