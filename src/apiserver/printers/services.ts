/**
 * Service networking: services, endpoints, endpointslices, ingresses,
 * ingressclasses and networkpolicies (upstream printService, printEndpoints,
 * printEndpointSlice, printIngress, printIngressClass, printNetworkPolicy).
 */
import type { Endpoints, LoadBalancerStatus, Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import type { Ingress, IngressClass, IngressLoadBalancerStatus, NetworkPolicy } from "kubernetes-types/networking/v1.js";
import { AGE, col, NAME } from "./columns.js";
import { DOC } from "./descriptions.js";
import { formatLabelSelector, formatLabels, joinHostPort, listWithMore, since, sortedUnique } from "./format.js";
import type { PrintContext, PrintedRow, Printer } from "./types.js";

/**
 * loadBalancerStatusStringer with wide=true (the API server always prints wide,
 * so the 16-character truncation kubectl once did never applies): the sorted,
 * unique ingress IPs, or hostnames where an entry has no IP.
 */
function loadBalancerStatus(s: LoadBalancerStatus | IngressLoadBalancerStatus | undefined): string {
  const out: string[] = [];
  for (const ing of s?.ingress ?? []) {
    if (ing.ip) out.push(ing.ip);
    else if (ing.hostname) out.push(ing.hostname);
  }
  return sortedUnique(out).join(",");
}

function externalIP(svc: Service, type: string): string {
  const externalIPs = svc.spec?.externalIPs ?? [];
  switch (type) {
    case "ClusterIP":
    case "NodePort":
      return externalIPs.length > 0 ? externalIPs.join(",") : "<none>";
    case "LoadBalancer": {
      const lb = loadBalancerStatus(svc.status?.loadBalancer);
      if (externalIPs.length > 0) return [...(lb ? lb.split(",") : []), ...externalIPs].join(",");
      return lb || "<pending>";
    }
    case "ExternalName":
      return svc.spec?.externalName ?? "";
  }
  return "<unknown>";
}

function portString(svc: Service): string {
  return (svc.spec?.ports ?? [])
    .map((p) => {
      // protocol defaults to TCP on create.
      const protocol = p.protocol ?? "TCP";
      return p.nodePort && p.nodePort > 0 ? `${p.port}:${p.nodePort}/${protocol}` : `${p.port}/${protocol}`;
    })
    .join(",");
}

export const servicePrinter: Printer = {
  columns: [
    NAME,
    col("Type", "string", DOC.svcType),
    col("Cluster-IP", "string", DOC.svcClusterIP),
    col("External-IP", "string", DOC.svcExternalIPs),
    col("Port(s)", "string", DOC.svcPorts),
    AGE,
    col("Selector", "string", DOC.svcSelector, true),
  ],
  print(obj: object, ctx: PrintContext): PrintedRow {
    const svc = obj as Service;
    // spec.type defaults to ClusterIP; conversion makes clusterIP the first of clusterIPs.
    const type = svc.spec?.type ?? "ClusterIP";
    const clusterIP = svc.spec?.clusterIP || svc.spec?.clusterIPs?.[0] || "<none>";
    return {
      cells: [
        svc.metadata?.name ?? "",
        type,
        clusterIP,
        externalIP(svc, type),
        portString(svc) || "<none>",
        since(svc.metadata?.creationTimestamp, ctx.now),
        formatLabels(svc.spec?.selector),
      ],
    };
  },
};

/** formatEndpoints(endpoints, nil): up to three "ip:port" (or bare ip for port-less subsets). */
export function formatEndpoints(ep: Endpoints): string {
  const subsets = ep.subsets ?? [];
  if (subsets.length === 0) return "<none>";
  const list: string[] = [];
  const max = 3;
  let more = false;
  let count = 0;
  for (const ss of subsets) {
    const addresses = ss.addresses ?? [];
    const ports = ss.ports ?? [];
    if (ports.length === 0) {
      // Headless services may have no ports.
      count += addresses.length;
      for (const a of addresses) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(a.ip);
      }
      continue;
    }
    for (const port of ports) {
      count += addresses.length;
      for (const a of addresses) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(joinHostPort(a.ip, port.port));
      }
    }
  }
  const ret = list.join(",");
  return more ? `${ret} + ${count - max} more...` : ret;
}

export const endpointsPrinter: Printer = {
  columns: [NAME, col("Endpoints", "string", DOC.epSubsets), AGE],
  print(obj: object, ctx: PrintContext): PrintedRow {
    const ep = obj as Endpoints;
    return { cells: [ep.metadata?.name ?? "", formatEndpoints(ep), since(ep.metadata?.creationTimestamp, ctx.now)] };
  },
};

function formatDiscoveryPorts(slice: EndpointSlice): string {
  const list: string[] = [];
  const max = 3;
  let more = false;
  let count = 0;
  for (const p of slice.ports ?? []) {
    if (list.length < max) {
      let port = "*";
      if (p.port !== undefined && p.port !== null) port = String(p.port);
      else if (p.name !== undefined && p.name !== null) port = p.name;
      list.push(port);
    } else if (list.length === max) {
      more = true;
    }
    count++;
  }
  return listWithMore(list, more, count, max);
}

function formatDiscoveryEndpoints(slice: EndpointSlice): string {
  const list: string[] = [];
  const max = 3;
  let more = false;
  let count = 0;
  for (const e of slice.endpoints ?? []) {
    for (const address of e.addresses ?? []) {
      if (list.length < max) list.push(address);
      else if (list.length === max) more = true;
      count++;
    }
  }
  return listWithMore(list, more, count, max);
}

export const endpointSlicePrinter: Printer = {
  columns: [
    NAME,
    col("AddressType", "string", DOC.esAddressType),
    col("Ports", "string", DOC.esPorts),
    col("Endpoints", "string", DOC.esEndpoints),
    AGE,
  ],
  print(obj: object, ctx: PrintContext): PrintedRow {
    const s = obj as EndpointSlice;
    return {
      cells: [
        s.metadata?.name ?? "",
        s.addressType ?? "",
        formatDiscoveryPorts(s),
        formatDiscoveryEndpoints(s),
        since(s.metadata?.creationTimestamp, ctx.now),
      ],
    };
  },
};

/** formatHosts: up to three hosts, "*" when no rule names one. */
function formatHosts(ing: Ingress): string {
  const rules = ing.spec?.rules ?? [];
  const list: string[] = [];
  const max = 3;
  let more = false;
  for (const rule of rules) {
    if (list.length === max) more = true;
    if (!more && rule.host) list.push(rule.host);
  }
  if (list.length === 0) return "*";
  const ret = list.join(",");
  return more ? `${ret} + ${rules.length - max} more...` : ret;
}

export const ingressPrinter: Printer = {
  columns: [
    NAME,
    col("Class", "string", "The name of the IngressClass resource that should be used for additional configuration"),
    col("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
    col("Address", "string", "Address is a list containing ingress points for the load-balancer"),
    col("Ports", "string", "Ports of TLS configurations that open"),
    AGE,
  ],
  print(obj: object, ctx: PrintContext): PrintedRow {
    const ing = obj as Ingress;
    const className = ing.spec?.ingressClassName ?? "<none>";
    const ports = (ing.spec?.tls ?? []).length !== 0 ? "80, 443" : "80";
    return {
      cells: [
        ing.metadata?.name ?? "",
        className,
        formatHosts(ing),
        loadBalancerStatus(ing.status?.loadBalancer),
        ports,
        since(ing.metadata?.creationTimestamp, ctx.now),
      ],
    };
  },
};

export const ingressClassPrinter: Printer = {
  columns: [
    NAME,
    col("Controller", "string", "Controller that is responsible for handling this class"),
    col("Parameters", "string", "A reference to a resource with additional parameters"),
    AGE,
  ],
  print(obj: object, ctx: PrintContext): PrintedRow {
    const ic = obj as IngressClass;
    let parameters = "<none>";
    const p = ic.spec?.parameters;
    if (p) {
      parameters = p.kind;
      if (p.apiGroup !== undefined && p.apiGroup !== null) parameters += `.${p.apiGroup}`;
      parameters += `/${p.name}`;
    }
    return {
      cells: [ic.metadata?.name ?? "", ic.spec?.controller ?? "", parameters, since(ic.metadata?.creationTimestamp, ctx.now)],
    };
  },
};

export const networkPolicyPrinter: Printer = {
  columns: [NAME, col("Pod-Selector", "string", DOC.extNetpolPodSelector), AGE],
  print(obj: object, ctx: PrintContext): PrintedRow {
    const np = obj as NetworkPolicy;
    return {
      cells: [np.metadata?.name ?? "", formatLabelSelector(np.spec?.podSelector ?? {}), since(np.metadata?.creationTimestamp, ctx.now)],
    };
  },
};
