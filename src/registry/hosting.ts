/**
 * How the cluster tells everyone where its registry is: the ConfigMap
 * `kube-public/local-registry-hosting` of KEP-1755 ("Communicating a local
 * registry"), as kind, k3d and minikube publish it. Its key
 * `localRegistryHosting.v1` holds YAML with the KEP's fields:
 *
 * ```yaml
 * host: "localhost:5000"                  # the name users push to and write in pod specs
 * hostFromContainerRuntime: "localhost:5000"   # the name nodes pull by (they map it to the server)
 * hostFromClusterNetwork: "10.0.0.5:5000" # where pods reach it (omitted when the server listens on loopback only)
 * ```
 *
 * `help` (a documentation URL in the KEP) is read but not written: skiff's
 * documentation is its README, which has no URL of its own.
 *
 * The server writes it (and repairs it at every start, deletes it with
 * `--disable registry`); every node reads it to learn the registry's port.
 * This file is the format only: no server or client code, so both sides share it.
 */
import type { ConfigMap } from "kubernetes-types/core/v1.js";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";

/** Where the ConfigMap lives and the key it carries, exactly as the KEP names them. */
export const LOCAL_REGISTRY_HOSTING = {
  namespace: "kube-public",
  name: "local-registry-hosting",
  key: "localRegistryHosting.v1",
} as const;

/** KEP-1755's `LocalRegistryHostingV1`. */
export interface LocalRegistryHostingV1 {
  /** The registry's name as seen from the machine that runs the server: `localhost:PORT`. */
  readonly host?: string;
  /** The name container runtimes on the nodes pull by. */
  readonly hostFromContainerRuntime?: string;
  /** The address pods reach the registry on. */
  readonly hostFromClusterNetwork?: string;
  /** Where to read how to use the registry. */
  readonly help?: string;
}

const FIELDS = ["host", "hostFromContainerRuntime", "hostFromClusterNetwork", "help"] as const;

/** The registry's name for a port: `localhost:PORT`, as kind and k3d name theirs. */
export function localRegistryHost(port: number): string {
  return `localhost:${port}`;
}

/** What skiff publishes for a registry on `port`; `clusterAddress` is the server's address pods can reach (none for a loopback-only server). */
export function localRegistryHosting(port: number, clusterAddress?: string): LocalRegistryHostingV1 {
  const host = localRegistryHost(port);
  return {
    host,
    hostFromContainerRuntime: host,
    ...(clusterAddress !== undefined ? { hostFromClusterNetwork: `${clusterAddress.includes(":") ? `[${clusterAddress}]` : clusterAddress}:${port}` } : {}),
  };
}

/** The ConfigMap carrying `hosting`. */
export function localRegistryHostingConfigMap(hosting: LocalRegistryHostingV1): ConfigMap {
  const doc: Record<string, string> = {};
  for (const f of FIELDS) if (hosting[f] !== undefined) doc[f] = hosting[f] as string;
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: LOCAL_REGISTRY_HOSTING.name, namespace: LOCAL_REGISTRY_HOSTING.namespace },
    data: { [LOCAL_REGISTRY_HOSTING.key]: stringifyYaml(doc, { defaultStringType: "QUOTE_DOUBLE", defaultKeyType: "PLAIN" }) },
  };
}

/**
 * Reads the KEP's document from the ConfigMap; undefined when the key is
 * missing or is not a YAML mapping (unknown fields are ignored, as the KEP
 * asks of readers so that later versions can add fields).
 */
export function parseLocalRegistryHosting(cm: Pick<ConfigMap, "data"> | undefined): LocalRegistryHostingV1 | undefined {
  const text = cm?.data?.[LOCAL_REGISTRY_HOSTING.key];
  if (text === undefined) return undefined;
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    return undefined;
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return undefined;
  const out: Record<string, string> = {};
  for (const f of FIELDS) {
    const v = (doc as Record<string, unknown>)[f];
    if (typeof v === "string" && v !== "") out[f] = v;
  }
  return out;
}

/** The port of a `localhost:PORT` host, or undefined when `host` is not of that form. */
export function localRegistryPort(host: string | undefined): number | undefined {
  const m = /^localhost:(\d{1,5})$/.exec(host ?? "");
  if (m === null) return undefined;
  const port = Number(m[1]);
  return port > 0 && port < 65536 ? port : undefined;
}
