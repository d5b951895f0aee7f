/**
 * Connection failures in a crashing container's logs, and what the cluster
 * says about their target: a name that resolves to no Service, or a Service
 * with no ready endpoints (the usual "backend cannot reach the DB").
 */
import type { Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";

/** One connection failure found in a log line. */
export interface ConnectionError {
  readonly line: string;
  /** The name or address it tried, when the line says. */
  readonly target?: string;
  readonly port?: number;
  /** Whether it failed resolving the name (vs connecting). */
  readonly resolution: boolean;
}

const RESOLUTION = /name or service not known|no such host|getaddrinfo|enotfound|eai_again|could not resolve|unknown host|bad address|temporary failure in name resolution|nodename nor servname/i;
const CONNECTION =
  /econnrefused|connection refused|could not connect|couldn't connect|can't connect|cannot connect|unable to connect|failed to connect|connect etimedout|ehostunreach|no route to host|i\/o timeout/i;

// Where the target sits in the messages common clients print.
const TARGET_PATTERNS: readonly RegExp[] = [
  /lookup ([A-Za-z0-9.-]+)(?: on [^:]+:\d+)?: no such host/i,
  /(?:ENOTFOUND|EAI_AGAIN) ([A-Za-z0-9.-]+)/,
  /(?:ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH) \[?([A-Za-z0-9.:-]+?)\]?:(\d+)/,
  /dial tcp \[?([A-Za-z0-9.:-]+?)\]?:(\d+)/i,
  /could not resolve host:? ['"]?([A-Za-z0-9.-]+)/i,
  /bad address '([A-Za-z0-9.-]+)'/i,
  /unknown host:? ['"]?([A-Za-z0-9.-]+)/i,
  /server on '([A-Za-z0-9.-]+)'(?: \((\d+)\))?/i,
  /(?:connect|connection) to (?:server (?:at )?)?['"]?([A-Za-z][A-Za-z0-9.-]*|\d+\.\d+\.\d+\.\d+)['"]?(?:[:, ]+(?:port )?(\d+))?/i,
  /host ['"]([A-Za-z0-9.-]+)['"](?:.*?port (\d+))?/i,
];

/** The connection failures in `lines` (each line at most once). */
export function findConnectionErrors(lines: readonly string[]): ConnectionError[] {
  const out: ConnectionError[] = [];
  for (const line of lines) {
    const resolution = RESOLUTION.test(line);
    if (!resolution && !CONNECTION.test(line)) continue;
    let target: string | undefined;
    let port: number | undefined;
    for (const re of TARGET_PATTERNS) {
      const m = re.exec(line);
      if (m?.[1] && !/^(server|the|to|host)$/i.test(m[1])) {
        target = m[1].replace(/\.$/, "");
        port = m[2] ? Number(m[2]) : undefined;
        break;
      }
    }
    out.push({ line: line.trim(), target, port, resolution });
  }
  return out;
}

/** What the cluster says about one connection target. */
export interface TargetVerdict {
  readonly service?: Service;
  /** Ready endpoint addresses of that Service. */
  readonly readyEndpoints: number;
  /** Plain-words cause and fix, or undefined when the cluster side looks fine or the target is outside the cluster. */
  readonly cause?: string;
  readonly fix?: string;
}

/**
 * Resolves `target` as cluster DNS would from a pod in `podNamespace`
 * (`svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.<domain>`, or a ClusterIP)
 * and judges the Service it names.
 */
export function judgeTarget(
  err: ConnectionError,
  podNamespace: string,
  services: readonly Service[],
  slices: readonly EndpointSlice[],
): TargetVerdict {
  const target = err.target;
  if (!target) return { readyEndpoints: 0 };
  const isIp = /^\d+\.\d+\.\d+\.\d+$/.test(target) || target.includes(":");
  let svc: Service | undefined;
  let wantedName: string | undefined;
  let wantedNs = podNamespace;
  if (isIp) {
    svc = services.find((s) => s.spec?.clusterIP === target || (s.spec?.clusterIPs ?? []).includes(target));
    if (!svc) return { readyEndpoints: 0 };
  } else {
    const parts = target.toLowerCase().split(".");
    if (parts.length === 1) {
      wantedName = parts[0];
    } else if (parts[2] === "svc" || (parts.length === 2 && services.some((s) => s.metadata?.namespace === parts[1]))) {
      // `svc.ns` only when ns looks like a namespace in use: `example.org` is a name outside the cluster.
      wantedName = parts[0];
      wantedNs = parts[1]!;
    } else {
      // A name outside the cluster (example.org): nothing cluster-side to judge.
      return { readyEndpoints: 0 };
    }
    svc = services.find((s) => s.metadata?.name === wantedName && s.metadata?.namespace === wantedNs);
    if (!svc) {
      const elsewhere = services.filter((s) => s.metadata?.name === wantedName).map((s) => s.metadata?.namespace);
      return {
        readyEndpoints: 0,
        cause: `The name "${target}" does not resolve: there is no Service "${wantedName}" in namespace ${wantedNs}${elsewhere.length ? ` (there is one in ${elsewhere.join(", ")})` : ""}.`,
        fix:
          elsewhere.length > 0
            ? `Use the full name ${wantedName}.${elsewhere[0]}.svc, or create the Service in ${wantedNs}.`
            : `Create the Service "${wantedName}" in namespace ${wantedNs} (kubectl expose …), or fix the host name in the pod's configuration.`,
      };
    }
  }
  const ns = svc.metadata?.namespace ?? "";
  const name = svc.metadata?.name ?? "";
  const own = slices.filter((s) => s.metadata?.namespace === ns && s.metadata?.labels?.["kubernetes.io/service-name"] === name);
  let ready = 0;
  let notReady = 0;
  for (const s of own) {
    for (const e of s.endpoints ?? []) {
      if (e.conditions?.ready === false) notReady += e.addresses.length;
      else ready += e.addresses.length;
    }
  }
  if (ready > 0 && err.resolution && !isIp) {
    return {
      service: svc,
      readyEndpoints: ready,
      cause: `The name "${target}" names Service ${ns}/${name} (which has ${ready} ready endpoint(s)), yet the lookup failed: cluster DNS did not answer it.`,
      fix: "Check cluster DNS (the kube-system/kube-dns finding, if any) and the pod's dnsPolicy/dnsConfig (dnsPolicy: ClusterFirst uses cluster DNS).",
    };
  }
  if (ready > 0) {
    const ports = (svc.spec?.ports ?? []).map((p) => p.port);
    if (err.port !== undefined && !isIp && ports.length > 0 && !ports.includes(err.port)) {
      return {
        service: svc,
        readyEndpoints: ready,
        cause: `It connects to port ${err.port} of Service ${ns}/${name}, which only serves port(s) ${ports.join(", ")}.`,
        fix: "Fix the port in the client's configuration or add the port to the Service.",
      };
    }
    return { service: svc, readyEndpoints: ready };
  }
  const selector = svc.spec?.selector;
  const sel = selector ? Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(",") : "";
  return {
    service: svc,
    readyEndpoints: 0,
    cause: `Service ${ns}/${name} has no ready endpoints${notReady > 0 ? ` (${notReady} not ready)` : ""}${sel ? `: no Ready pod matches its selector ${sel}` : " and no selector"}, so connections to it are refused.`,
    fix: sel
      ? `Start the pods behind it (kubectl get pods -n ${ns} -l ${sel}) and make them Ready, or fix the Service's selector to match their labels.`
      : `Add a selector to Service ${ns}/${name} or create its EndpointSlice by hand.`,
  };
}
