/**
 * The Service environment variables the kubelet injects (upstream
 * pkg/kubelet/envvars FromServices and kubelet_pods.go
 * getServiceEnvVarMap): `{SVC}_SERVICE_HOST`, `{SVC}_SERVICE_PORT`,
 * `{SVC}_SERVICE_PORT_{NAME}`, and the Docker-link style `{SVC}_PORT`,
 * `{SVC}_PORT_{PORT}_{PROTO}[_PROTO|_PORT|_ADDR]`.
 */
import type { Service } from "kubernetes-types/core/v1.js";

/** upstream IsServiceIPSet: a ClusterIP that is neither "None" nor empty. */
export function isServiceIPSet(svc: Service): boolean {
  const ip = svc.spec?.clusterIP ?? "";
  return ip !== "" && ip !== "None";
}

/** upstream makeEnvVariableName: upper case, `-` → `_`. */
function envName(s: string): string {
  return s.replaceAll("-", "_").toUpperCase();
}

/** net.JoinHostPort. */
function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** upstream envvars.FromServices, in its order. */
export function fromServices(services: readonly Service[]): [string, string][] {
  const out: [string, string][] = [];
  for (const svc of services) {
    if (!isServiceIPSet(svc)) continue;
    const ports = svc.spec?.ports ?? [];
    // Validation requires a port of every ClusterIP service; one without has nothing to advertise.
    if (ports.length === 0) continue;
    const ip = svc.spec!.clusterIP!;
    const prefix = envName(svc.metadata?.name ?? "");
    out.push([`${prefix}_SERVICE_HOST`, ip]);
    const portName = `${prefix}_SERVICE_PORT`;
    out.push([portName, String(ports[0]!.port)]);
    for (const sp of ports) if (sp.name) out.push([`${portName}_${envName(sp.name)}`, String(sp.port)]);
    // Docker-compatible link variables.
    ports.forEach((sp, i) => {
      const protocol = sp.protocol || "TCP";
      const url = `${protocol.toLowerCase()}://${joinHostPort(ip, sp.port)}`;
      if (i === 0) out.push([`${prefix}_PORT`, url]);
      const pp = `${prefix}_PORT_${sp.port}_${protocol.toUpperCase()}`;
      out.push([pp, url], [`${pp}_PROTO`, protocol.toLowerCase()], [`${pp}_PORT`, String(sp.port)], [`${pp}_ADDR`, ip]);
    });
  }
  return out;
}

/** upstream masterServices: the API server's Service, injected into every pod. */
const MASTER_SERVICES = new Set(["kubernetes"]);

/**
 * upstream getServiceEnvVarMap: `kubernetes` of the default namespace for
 * every pod; with service links, every Service of the pod's namespace too
 * (a namespace's own Service of a master name wins over the default one).
 * `defaultServices` and `podServices` are the two namespaces' lists.
 */
export function serviceEnvVarMap(
  namespace: string,
  enableServiceLinks: boolean,
  defaultServices: readonly Service[],
  podServices: readonly Service[],
): Map<string, string> {
  const byName = new Map<string, Service>();
  for (const svc of defaultServices) {
    const name = svc.metadata?.name ?? "";
    if (!isServiceIPSet(svc) || !MASTER_SERVICES.has(name)) continue;
    if (!byName.has(name)) byName.set(name, svc);
  }
  if (enableServiceLinks) {
    for (const svc of podServices) {
      const name = svc.metadata?.name ?? "";
      if (!isServiceIPSet(svc)) continue;
      // In the default namespace, the master services are taken above.
      if (namespace === "default" && MASTER_SERVICES.has(name)) continue;
      byName.set(name, svc);
    }
  }
  const sorted = [...byName.keys()].sort().map((k) => byName.get(k)!);
  return new Map(fromServices(sorted));
}
