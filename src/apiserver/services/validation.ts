/**
 * Service validation with upstream's field paths and messages
 * (pkg/apis/core/validation: ValidateService, ValidateServiceUpdate,
 * ValidateServiceClusterIPsRelatedFields and helpers). Metadata is checked
 * by the generic registry; this covers the spec.
 *
 * One ordering difference: upstream allocates before validating, skiff
 * validates first (the registry's hooks run in that order), so fields the
 * allocator fills in (healthCheckNodePort) are not required here.
 */
import type { FieldError } from "../../machinery/status-error.js";
import type { KObject } from "../registry/types.js";
import { dns1123Label, dns1123Subdomain, labelValue, qualifiedName } from "../registry/meta-validation.js";
import {
  duplicate,
  forbidden,
  goNull,
  goNumber,
  goString,
  goStringPtr,
  goStrings,
  type GoValue,
  invalidValue,
  notSupported,
  required,
} from "../../machinery/field-errors.js";
import { ipFamilyOf, parseIPv4 } from "./ip.js";
import {
  externallyAccessible,
  isHeadless,
  NONE,
  needsHealthCheck,
  num,
  portsOf,
  type ServicePortJSON,
  type ServiceSpecJSON,
  specOf,
  str,
} from "./service-spec.js";

const SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const PROTOCOLS = ["SCTP", "TCP", "UDP"];
const SESSION_AFFINITIES = ["ClientIP", "None"];
const IP_FAMILIES = ["IPv4", "IPv6"];
const IP_FAMILY_POLICIES = ["PreferDualStack", "RequireDualStack", "SingleStack"];
const TRAFFIC_POLICIES = ["Cluster", "Local"];
/** core.MaxClientIPServiceAffinitySeconds. */
const MAX_CLIENT_IP_AFFINITY_SECONDS = 86400;
const ANNOTATION_TOPOLOGY_MODE = "service.kubernetes.io/topology-mode";
const ANNOTATION_TOPOLOGY_HINTS = "service.kubernetes.io/topology-aware-hints";
const ANNOTATION_LB_SOURCE_RANGES = "service.beta.kubernetes.io/load-balancer-source-ranges";

/** `validation.IsValidPortNum`. */
export function portNumErrors(port: number): string[] {
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? [] : ["must be between 1 and 65535, inclusive"];
}

/** `validation.IsValidPortName` (IANA_SVC_NAME). */
export function portNameErrors(name: string): string[] {
  const errs: string[] = [];
  if (name.length > 15) errs.push("must be no more than 15 characters");
  if (!/^[-a-z0-9]+$/.test(name)) errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  if (!/[a-z]/.test(name)) errs.push("must contain at least one letter (a-z)");
  if (name.includes("--")) errs.push("must not contain consecutive hyphens");
  if (name.length > 0 && (name.startsWith("-") || name.endsWith("-"))) errs.push("must not begin or end with a hyphen");
  return errs;
}

/** `IsDNS1123Label`, with its "must not contain dots" special case. */
function labelErrors(v: string): string[] {
  const errs = dns1123Label(v);
  if (errs.length > 0 && v.length <= 63 && dns1123Subdomain(v).length === 0) {
    return errs.map((e) => (e.startsWith("a lowercase RFC 1123 label") ? "must not contain dots" : e));
  }
  return errs;
}

const IP_MESSAGE = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";

/** `ValidateNonSpecialIP` for an address already known to parse. */
function nonSpecialIPErrors(ip: string): string[] {
  const errs: string[] = [];
  const v4 = parseIPv4(ip);
  const low = ip.toLowerCase();
  const unspecified = v4 === 0 || (v4 === undefined && /^(0*:)+0*$|^::$/.test(low));
  const loopback = v4 !== undefined ? v4 >>> 24 === 127 : low === "::1" || /^(0+:){7}0*1$/.test(low);
  const linkLocal = v4 !== undefined ? v4 >>> 16 === 0xa9fe : /^fe[89ab][0-9a-f]:/.test(low);
  const linkLocalMulticast = v4 !== undefined ? v4 >>> 8 === 0xe00000 : /^ff[0-9a-f]2:/.test(low);
  if (unspecified) errs.push(`may not be unspecified (${ip})`);
  if (loopback) errs.push("may not be in the loopback range (127.0.0.0/8, ::1/128)");
  if (linkLocal) errs.push("may not be in the link-local range (169.254.0.0/16, fe80::/10)");
  if (linkLocalMulticast) errs.push("may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)");
  return errs;
}

/** `IsValidCIDR`. */
function cidrErrors(v: string): string[] {
  const m = /^([^/]+)\/([0-9]{1,3})$/.exec(v);
  const fam = m ? ipFamilyOf(m[1]!) : undefined;
  const ok = m && fam && Number(m[2]) <= (fam === "IPv4" && parseIPv4(m[1]!) !== undefined ? 32 : 128);
  return ok ? [] : ["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"];
}

/** Go's `%#v` of a core.ServicePort used as a duplicate key. */
function goPortKey(protocol: string, port: number): GoValue {
  return {
    go: `core.ServicePort{Name:"", Protocol:${JSON.stringify(protocol)}, AppProtocol:(*string)(nil), Port:${port}, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}`,
  };
}

function validateServicePort(sp: ServicePortJSON, requireName: boolean, names: Set<string>, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const name = str(sp.name);
  if (requireName && name.length === 0) errs.push(required(`${path}.name`));
  else if (name.length !== 0) {
    for (const m of labelErrors(name)) errs.push(invalidValue(`${path}.name`, goString(name), m));
    if (names.has(name)) errs.push(duplicate(`${path}.name`, goString(name)));
    else names.add(name);
  }
  for (const m of portNumErrors(num(sp.port))) errs.push(invalidValue(`${path}.port`, goNumber(num(sp.port)), m));
  const protocol = str(sp.protocol);
  if (protocol.length === 0) errs.push(required(`${path}.protocol`));
  else if (!PROTOCOLS.includes(protocol)) errs.push(notSupported(`${path}.protocol`, goString(protocol), PROTOCOLS));
  const tp = sp.targetPort;
  if (typeof tp === "string") {
    for (const m of portNameErrors(tp)) errs.push(invalidValue(`${path}.targetPort`, goString(tp), m));
  } else {
    for (const m of portNumErrors(num(tp))) errs.push(invalidValue(`${path}.targetPort`, goNumber(num(tp)), m));
  }
  if (sp.appProtocol !== undefined && sp.appProtocol !== null) {
    const ap = str(sp.appProtocol);
    for (const m of qualifiedName(ap)) errs.push(invalidValue(`${path}.appProtocol`, goString(ap), m));
  }
  return errs;
}

/** `ValidateServiceClusterIPsRelatedFields`: clusterIP(s), ipFamilies, ipFamilyPolicy. */
export function validateClusterIPsRelatedFields(spec: ServiceSpecJSON): FieldError[] {
  if (spec.type === "ExternalName") return [];
  const errs: FieldError[] = [];
  const clusterIPs = Array.isArray(spec.clusterIPs) ? spec.clusterIPs : undefined;
  const ips = clusterIPs ?? [];
  const families = Array.isArray(spec.ipFamilies) ? spec.ipFamilies : [];
  let hasInvalidIPs = false;

  // clusterIP and clusterIPs are kept in sync (the strategy fills one from the other).
  if (str(spec.clusterIP).length !== 0) {
    if (ips.length === 0) errs.push(required("spec.clusterIPs"));
    else if (ips[0] !== spec.clusterIP) errs.push(invalidValue("spec.clusterIPs", goStrings(clusterIPs), "first value must match `clusterIP`"));
  } else if (ips.length !== 0) {
    errs.push(invalidValue("spec.clusterIPs", goStrings(clusterIPs), "must be empty when `clusterIP` is not specified"));
  }

  const seen = new Set<string>();
  families.forEach((f, i) => {
    if (!IP_FAMILIES.includes(f)) errs.push(notSupported(`spec.ipFamilies[${i}]`, goString(String(f)), IP_FAMILIES));
    if (seen.has(f)) errs.push(duplicate(`spec.ipFamilies[${i}]`, goString(String(f))));
    seen.add(f);
  });

  if (spec.ipFamilyPolicy !== undefined && spec.ipFamilyPolicy !== null && !IP_FAMILY_POLICIES.includes(spec.ipFamilyPolicy)) {
    errs.push(notSupported("spec.ipFamilyPolicy", goString(str(spec.ipFamilyPolicy)), IP_FAMILY_POLICIES));
  }

  ips.forEach((ip, i) => {
    if (i === 0 && ip === NONE) {
      if (ips.length > 1) {
        hasInvalidIPs = true;
        errs.push(invalidValue("spec.clusterIPs", goStrings(clusterIPs), "'None' must be the first and only value"));
      }
      return;
    }
    if (typeof ip !== "string" || ipFamilyOf(ip) === undefined) {
      hasInvalidIPs = true;
      errs.push(invalidValue(`spec.clusterIPs[${i}]`, goString(String(ip)), IP_MESSAGE));
    }
  });

  if (ips.length > 2) errs.push(invalidValue("spec.clusterIPs", goStrings(clusterIPs), "may only hold up to 2 values"));
  if (hasInvalidIPs) return errs;

  if (ips.length > 1) {
    const fams = ips.map((ip) => ipFamilyOf(ip));
    const dual = fams.length === 2 && fams[0] !== fams[1];
    if (!dual) errs.push(invalidValue("spec.clusterIPs", goStrings(clusterIPs), "may specify no more than one IP for each IP family"));
  }

  if (!isHeadless(spec) && ips.length > 0 && families.length > 0) {
    ips.forEach((ip, i) => {
      if (i > families.length - 1) return;
      const fam = ipFamilyOf(ip);
      if (families[i] === "IPv4" && fam === "IPv6") {
        errs.push(invalidValue(`spec.clusterIPs[${i}]`, goString(ip), `expected an IPv4 value as indicated by \`ipFamilies[${i}]\``));
      }
      if (families[i] === "IPv6" && fam !== "IPv6") {
        errs.push(invalidValue(`spec.clusterIPs[${i}]`, goString(ip), `expected an IPv6 value as indicated by \`ipFamilies[${i}]\``));
      }
    });
  }
  return errs;
}

function validateClientIPAffinityConfig(spec: ServiceSpecJSON): FieldError[] {
  const path = "spec.sessionAffinityConfig";
  const detail = "when session affinity type is ClientIP";
  const cfg = spec.sessionAffinityConfig;
  if (!cfg || typeof cfg !== "object") return [required(path, detail)];
  if (!cfg.clientIP || typeof cfg.clientIP !== "object") return [required(`${path}.clientIP`, detail)];
  const t = cfg.clientIP.timeoutSeconds;
  if (t === undefined || t === null) return [required(`${path}.clientIP.timeoutSeconds`, detail)];
  if (num(t) <= 0 || num(t) > MAX_CLIENT_IP_AFFINITY_SECONDS) {
    return [invalidValue(`${path}.clientIP.timeoutSeconds`, goNumber(num(t)), `must be greater than 0 and less than ${MAX_CLIENT_IP_AFFINITY_SECONDS}`)];
  }
  return [];
}

function validateExternalTrafficPolicy(spec: ServiceSpecJSON): FieldError[] {
  const errs: FieldError[] = [];
  const etp = str(spec.externalTrafficPolicy);
  if (!externallyAccessible(spec)) {
    if (etp !== "") errs.push(invalidValue("spec.externalTrafficPolicy", goString(etp), "may only be set for externally-accessible services"));
  } else if (etp === "") errs.push(required("spec.externalTrafficPolicy"));
  else if (!TRAFFIC_POLICIES.includes(etp)) errs.push(notSupported("spec.externalTrafficPolicy", goString(etp), TRAFFIC_POLICIES));

  const hc = num(spec.healthCheckNodePort);
  if (!needsHealthCheck(spec)) {
    if (hc !== 0) {
      errs.push(
        invalidValue("spec.healthCheckNodePort", goNumber(hc), "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"),
      );
    }
  } else if (hc !== 0) {
    // hc === 0 is filled in by the allocator, which upstream runs before validation.
    for (const m of portNumErrors(hc)) errs.push(invalidValue("spec.healthCheckNodePort", goNumber(hc), m));
  }
  return errs;
}

/** `ValidateService` minus ObjectMeta (checked by the generic registry). */
export function validateService(o: KObject): FieldError[] {
  const spec = specOf(o);
  const errs: FieldError[] = [];
  const annotations = o.metadata?.annotations ?? {};
  const ports = portsOf(spec);
  const type = str(spec.type);

  const mode = annotations[ANNOTATION_TOPOLOGY_MODE];
  const hints = annotations[ANNOTATION_TOPOLOGY_HINTS];
  if (mode !== undefined && hints !== undefined && mode !== hints) {
    errs.push(
      invalidValue(`metadata.annotations[${ANNOTATION_TOPOLOGY_MODE}]`, goString(mode), `must match annotations[${ANNOTATION_TOPOLOGY_HINTS}] when both are specified`),
    );
  }

  if (ports.length === 0 && !isHeadless(spec) && type !== "ExternalName") errs.push(required("spec.ports"));
  switch (type) {
    case "LoadBalancer":
      if (isHeadless(spec)) errs.push(invalidValue("spec.clusterIPs[0]", goString(NONE), "may not be set to 'None' for LoadBalancer services"));
      break;
    case "NodePort":
      if (isHeadless(spec)) errs.push(invalidValue("spec.clusterIPs[0]", goString(NONE), "may not be set to 'None' for NodePort services"));
      break;
    case "ExternalName": {
      if (Array.isArray(spec.clusterIPs) && spec.clusterIPs.length > 0) errs.push(forbidden("spec.clusterIPs", "may not be set for ExternalName services"));
      if (Array.isArray(spec.ipFamilies) && spec.ipFamilies.length > 0) errs.push(forbidden("spec.ipFamilies", "may not be set for ExternalName services"));
      if (spec.ipFamilyPolicy !== undefined && spec.ipFamilyPolicy !== null) errs.push(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"));
      // A trailing dot marks the CNAME fully qualified.
      const cname = str(spec.externalName).replace(/\.$/, "");
      if (cname.length > 0) for (const m of dns1123Subdomain(cname)) errs.push(invalidValue("spec.externalName", goString(cname), m));
      else errs.push(required("spec.externalName"));
      break;
    }
  }

  const names = new Set<string>();
  ports.forEach((p, i) => {
    errs.push(...validateServicePort(p, ports.length > 1, names, `spec.ports[${i}]`));
  });

  if (spec.selector !== undefined && spec.selector !== null && typeof spec.selector === "object") {
    for (const [k, v] of Object.entries(spec.selector)) {
      for (const m of qualifiedName(k)) errs.push(invalidValue("spec.selector", goString(k), m));
      for (const m of labelValue(str(v))) errs.push(invalidValue("spec.selector", goString(str(v)), m));
    }
  }

  const affinity = str(spec.sessionAffinity);
  if (affinity === "") errs.push(required("spec.sessionAffinity"));
  else if (!SESSION_AFFINITIES.includes(affinity)) errs.push(notSupported("spec.sessionAffinity", goString(affinity), SESSION_AFFINITIES));
  if (affinity === "ClientIP") errs.push(...validateClientIPAffinityConfig(spec));
  else if (affinity === "None" && spec.sessionAffinityConfig !== undefined && spec.sessionAffinityConfig !== null) {
    errs.push(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"));
  }

  errs.push(...validateClusterIPsRelatedFields(spec));

  (Array.isArray(spec.externalIPs) ? spec.externalIPs : []).forEach((ip, i) => {
    const path = `spec.externalIPs[${i}]`;
    if (typeof ip !== "string" || ipFamilyOf(ip) === undefined) errs.push(invalidValue(path, goString(String(ip)), IP_MESSAGE));
    else for (const m of nonSpecialIPErrors(ip)) errs.push(invalidValue(path, goString(ip), m));
  });

  if (type === "") errs.push(required("spec.type"));
  else if (!SERVICE_TYPES.includes(type)) errs.push(notSupported("spec.type", goString(type), SERVICE_TYPES));

  if (type === "ClusterIP") {
    ports.forEach((p, i) => {
      if (num(p.nodePort) !== 0) errs.push(forbidden(`spec.ports[${i}].nodePort`, "may not be used when `type` is 'ClusterIP'"));
    });
  }

  const nodePorts = new Set<string>();
  ports.forEach((p, i) => {
    if (num(p.nodePort) === 0) return;
    const key = `${str(p.protocol)}/${num(p.nodePort)}`;
    if (nodePorts.has(key)) errs.push(duplicate(`spec.ports[${i}].nodePort`, goNumber(num(p.nodePort))));
    nodePorts.add(key);
  });

  const seenPorts = new Set<string>();
  ports.forEach((p, i) => {
    const key = `${str(p.protocol)}/${num(p.port)}`;
    if (seenPorts.has(key)) errs.push(duplicate(`spec.ports[${i}]`, goPortKey(str(p.protocol), num(p.port))));
    seenPorts.add(key);
  });

  const ranges = Array.isArray(spec.loadBalancerSourceRanges) ? spec.loadBalancerSourceRanges : [];
  if (ranges.length > 0) {
    // Upstream's path really is capitalised here.
    const path = "spec.LoadBalancerSourceRanges";
    if (type !== "LoadBalancer") errs.push(forbidden(path, "may only be used when `type` is 'LoadBalancer'"));
    ranges.forEach((r, i) => {
      const v = String(r).trim();
      for (const m of cidrErrors(v)) errs.push(invalidValue(`${path}[${i}]`, goString(v), m));
    });
  } else if (annotations[ANNOTATION_LB_SOURCE_RANGES] !== undefined) {
    const path = `metadata.annotations[${ANNOTATION_LB_SOURCE_RANGES}]`;
    if (type !== "LoadBalancer") errs.push(forbidden(path, "may only be used when `type` is 'LoadBalancer'"));
    const val = annotations[ANNOTATION_LB_SOURCE_RANGES]!.trim();
    if (val !== "") {
      for (const part of val.split(",")) for (const m of cidrErrors(part.trim())) errs.push(invalidValue(path, goString(part.trim()), m));
    }
  }

  if (spec.allocateLoadBalancerNodePorts !== undefined && spec.allocateLoadBalancerNodePorts !== null && type !== "LoadBalancer") {
    errs.push(forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'"));
  }
  if (type === "LoadBalancer" && (spec.allocateLoadBalancerNodePorts === undefined || spec.allocateLoadBalancerNodePorts === null)) {
    // Upstream's path lacks the "spec." prefix.
    errs.push(required("allocateLoadBalancerNodePorts"));
  }

  errs.push(...validateLoadBalancerClass(spec, undefined));
  errs.push(...validateExternalTrafficPolicy(spec));

  const itp = spec.internalTrafficPolicy;
  if (itp === undefined || itp === null) {
    if (type === "NodePort" || type === "LoadBalancer" || type === "ClusterIP") errs.push(required("spec.internalTrafficPolicy"));
  } else if (!TRAFFIC_POLICIES.includes(str(itp))) {
    errs.push(notSupported("spec.internalTrafficPolicy", goString(str(itp)), TRAFFIC_POLICIES));
  }

  if (spec.trafficDistribution !== undefined && spec.trafficDistribution !== null && spec.trafficDistribution !== "PreferClose") {
    errs.push(notSupported("spec.trafficDistribution", goString(str(spec.trafficDistribution)), ["PreferClose"]));
  }
  return errs;
}

function validateLoadBalancerClass(spec: ServiceSpecJSON, old: ServiceSpecJSON | undefined): FieldError[] {
  const errs: FieldError[] = [];
  const cls = spec.loadBalancerClass ?? undefined;
  if (old && old.type === "LoadBalancer" && spec.type === "LoadBalancer" && (old.loadBalancerClass ?? undefined) !== cls) {
    errs.push(invalidValue("spec.loadBalancerClass", cls === undefined ? goNull : goString(cls), "may not change once set"));
  }
  if (spec.type === "LoadBalancer") {
    if (cls !== undefined) for (const m of qualifiedName(str(cls))) errs.push(invalidValue("spec.loadBalancerClass", goString(str(cls)), m));
  } else if (cls !== undefined) {
    errs.push(forbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'"));
  }
  return errs;
}

/** `validateUpgradeDowngradeClusterIPs`: the primary cluster IP never changes. */
function validateClusterIPsUpdate(spec: ServiceSpecJSON, old: ServiceSpecJSON): FieldError[] {
  const errs: FieldError[] = [];
  if (spec.type === "ExternalName" || old.type === "ExternalName") return errs;
  if (isHeadless(old) && isHeadless(spec)) return errs;
  const n = Array.isArray(spec.clusterIPs) ? spec.clusterIPs : [];
  const o = Array.isArray(old.clusterIPs) ? old.clusterIPs : [];
  const v = goStrings(Array.isArray(spec.clusterIPs) ? spec.clusterIPs : undefined);
  if (o.length === n.length) {
    o.forEach((ip, i) => {
      if (ip !== n[i]) errs.push(invalidValue(`spec.clusterIPs[${i}]`, v, "may not change once set"));
    });
  } else if (o.length > n.length) {
    if (n.length === 0) errs.push(invalidValue("spec.clusterIPs[0]", v, "primary clusterIP can not be unset"));
    if (o.length > 0 && n.length > 0 && n[0] !== o[0]) errs.push(invalidValue("spec.clusterIPs[0]", v, "may not change once set"));
    if (n.length === 1 && spec.ipFamilyPolicy !== "SingleStack") {
      errs.push(invalidValue("spec.ipFamilyPolicy", goStringPtr(spec.ipFamilyPolicy), "must be set to 'SingleStack' when releasing the secondary clusterIP"));
    }
  } else if (o.length > 0 && n[0] !== o[0]) {
    errs.push(invalidValue("spec.clusterIPs[0]", v, "may not change once set"));
  }
  return errs;
}

/** `validateUpgradeDowngradeIPFamilies`. */
function validateIPFamiliesUpdate(spec: ServiceSpecJSON, old: ServiceSpecJSON): FieldError[] {
  const errs: FieldError[] = [];
  if (spec.type === "ExternalName" || old.type === "ExternalName") return errs;
  if (isHeadless(old) !== isHeadless(spec) || isHeadless(spec)) return errs;
  const n = Array.isArray(spec.ipFamilies) ? spec.ipFamilies : [];
  const o = Array.isArray(old.ipFamilies) ? old.ipFamilies : [];
  const famValue = goStrings(Array.isArray(spec.ipFamilies) ? spec.ipFamilies : undefined);
  // Upstream reports some of these with clusterIPs as the value; kept as is.
  const ipsValue = goStrings(Array.isArray(spec.clusterIPs) ? spec.clusterIPs : undefined);
  if (o.length === n.length) {
    o.forEach((f, i) => {
      if (f !== n[i]) errs.push(invalidValue("spec.ipFamilies[0]", famValue, "may not change once set"));
    });
  } else if (o.length > n.length) {
    if ((spec.clusterIPs ?? []).length === 0) errs.push(invalidValue("spec.ipFamilies[0]", famValue, "primary ipFamily can not be unset"));
    if (n.length > 0 && n[0] !== o[0]) errs.push(invalidValue("spec.ipFamilies[0]", ipsValue, "may not change once set"));
    if (n.length === 1 && spec.ipFamilyPolicy !== "SingleStack") {
      errs.push(invalidValue("spec.ipFamilyPolicy", goStringPtr(spec.ipFamilyPolicy), "must be set to 'SingleStack' when releasing the secondary ipFamily"));
    }
  } else if (o.length > 0 && n.length > 0 && n[0] !== o[0]) {
    errs.push(invalidValue("spec.ipFamilies[0]", ipsValue, "may not change once set"));
  }
  return errs;
}

/** `ValidateServiceUpdate` minus ObjectMeta. */
export function validateServiceUpdate(o: KObject, old: KObject): FieldError[] {
  const spec = specOf(o);
  const oldSpec = specOf(old);
  const errs: FieldError[] = [
    ...validateClusterIPsUpdate(spec, oldSpec),
    ...validateIPFamiliesUpdate(spec, oldSpec),
    ...validateLoadBalancerClass(spec, oldSpec).filter((e) => e.detail.endsWith("may not change once set")),
  ];
  if (needsHealthCheck(oldSpec) && needsHealthCheck(spec) && num(spec.healthCheckNodePort) !== num(oldSpec.healthCheckNodePort)) {
    errs.push(forbidden("spec.healthCheckNodePort", "field is immutable"));
  }
  return [...errs, ...validateService(o)];
}
