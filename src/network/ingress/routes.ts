/**
 * The routing table of the ingress controller: every Ingress it serves,
 * merged into host → path rules as the networking.k8s.io/v1 spec says.
 *
 * - Hosts: a precise host matches the request's Host (port dropped, case
 *   folded); `*.foo.com` matches exactly one more leading label
 *   (`bar.foo.com`, not `foo.com` nor `baz.bar.foo.com`). A rule without a
 *   host matches every request. A request is tried against its precise
 *   host's rules, then its wildcard's, then the host-less rules; the first
 *   group with a matching path wins (so a host-specific rule shadows a
 *   host-less one, as ingress-nginx's per-host servers do), and a request
 *   no rule matches goes to the defaultBackend.
 * - Paths: `Exact` matches the URL path exactly (case-sensitive); `Prefix`
 *   matches element-wise on `/`-separated elements with a trailing `/`
 *   ignored (`/foo/bar` matches `/foo/bar`, `/foo/bar/`, `/foo/bar/baz`,
 *   not `/foo/barbaz`); `ImplementationSpecific` is treated as `Prefix`
 *   here. The longest path wins; at equal length `Exact` beats `Prefix`.
 * - Several Ingresses are merged; on a conflict (same host, path and
 *   type; or two defaultBackends) the oldest Ingress wins (creation time,
 *   then namespace/name), as ingress-nginx resolves it.
 */
import type { Ingress, IngressBackend } from "kubernetes-types/networking/v1.js";

/** Where a matched request goes. */
export type RouteBackend =
  | {
      readonly type: "service";
      readonly namespace: string;
      readonly service: string;
      /** The Service port, by number or by name. */
      readonly port: number | string;
      /** `ns/name` of the Ingress the rule came from. */
      readonly ingress: string;
    }
  | {
      /** A `resource` backend: not served (answered 503 with the reason). */
      readonly type: "resource";
      readonly ingress: string;
      readonly description: string;
    };

/** One path rule, as compiled. */
export interface PathRule {
  readonly path: string;
  readonly pathType: "Exact" | "Prefix";
  /** The path without trailing slashes (Prefix matching), "" for `/`. */
  readonly prefix: string;
  readonly backend: RouteBackend;
}

/** What {@link RouteTable.match} found. */
export type RouteMatch = { readonly backend: RouteBackend; readonly rule?: PathRule } | undefined;

/** Builds the backend of an `IngressBackend`; undefined when it names neither a service nor a resource. */
export function backendOf(b: IngressBackend | undefined, namespace: string, ingress: string): RouteBackend | undefined {
  if (b?.service?.name) {
    const port = b.service.port?.number ?? b.service.port?.name;
    if (port === undefined || port === "") return undefined;
    return { type: "service", namespace, service: b.service.name, port, ingress };
  }
  if (b?.resource?.name) {
    const r = b.resource;
    return { type: "resource", ingress, description: `${r.apiGroup ? `${r.apiGroup}/` : ""}${r.kind} ${r.name}` };
  }
  return undefined;
}

/** True when `path` (a request's URL path) is matched by the rule. */
export function pathMatches(rule: PathRule, path: string): boolean {
  if (rule.pathType === "Exact") return path === rule.path;
  if (rule.prefix === "") return true;
  if (!path.startsWith(rule.prefix)) return false;
  const rest = path.length - rule.prefix.length;
  // Element-wise: the prefix must end at an element boundary of the request path.
  return rest === 0 || path.charCodeAt(rule.prefix.length) === 47; /* "/" */
}

/** The host of a Host header: port dropped, lower case, no trailing dot; "" when absent. */
export function hostOf(header: string | undefined): string {
  if (!header) return "";
  let h = header;
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    h = end > 0 ? h.slice(0, end + 1) : h;
  } else {
    const colon = h.indexOf(":");
    if (colon >= 0) h = h.slice(0, colon);
  }
  h = h.toLowerCase();
  return h.endsWith(".") ? h.slice(0, -1) : h;
}

function ingressKey(ing: Ingress): string {
  return `${ing.metadata?.namespace ?? ""}/${ing.metadata?.name ?? ""}`;
}

/** Oldest first, then by namespace/name: the order conflicts are resolved in. */
export function byAge(a: Ingress, b: Ingress): number {
  const ta = a.metadata?.creationTimestamp ?? "";
  const tb = b.metadata?.creationTimestamp ?? "";
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = ingressKey(a);
  const kb = ingressKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Longest path first; at equal length Exact before Prefix; otherwise insertion (age) order. */
function ruleOrder(a: PathRule, b: PathRule): number {
  if (a.path.length !== b.path.length) return b.path.length - a.path.length;
  if (a.pathType !== b.pathType) return a.pathType === "Exact" ? -1 : 1;
  return 0;
}

/** Host and path rules of a set of Ingresses, compiled for matching. */
export class RouteTable {
  readonly #exact = new Map<string, PathRule[]>();
  /** By the wildcard's suffix (`foo.com` for `*.foo.com`). */
  readonly #wildcard = new Map<string, PathRule[]>();
  readonly #any: PathRule[] = [];
  #defaultBackend: RouteBackend | undefined;

  /** Compiles `ingresses` (the ones this controller serves). */
  constructor(ingresses: readonly Ingress[]) {
    const seen = new Set<string>();
    for (const ing of [...ingresses].sort(byAge)) {
      const ns = ing.metadata?.namespace ?? "default";
      const key = ingressKey(ing);
      if (this.#defaultBackend === undefined) this.#defaultBackend = backendOf(ing.spec?.defaultBackend, ns, key);
      for (const rule of ing.spec?.rules ?? []) {
        const host = (rule.host ?? "").toLowerCase();
        for (const p of rule.http?.paths ?? []) {
          const backend = backendOf(p.backend, ns, key);
          if (backend === undefined) continue;
          const path = p.path || "/";
          const pathType = p.pathType === "Exact" ? "Exact" : "Prefix";
          const dedupe = `${host} ${pathType} ${path}`;
          if (seen.has(dedupe)) continue;
          seen.add(dedupe);
          const compiled: PathRule = { path, pathType, prefix: path.replace(/\/+$/, ""), backend };
          this.#listFor(host).push(compiled);
        }
      }
    }
    for (const list of [...this.#exact.values(), ...this.#wildcard.values(), this.#any]) list.sort(ruleOrder);
  }

  #listFor(host: string): PathRule[] {
    if (host === "") return this.#any;
    const [map, k] = host.startsWith("*.") ? [this.#wildcard, host.slice(2)] : [this.#exact, host];
    let list = map.get(k);
    if (list === undefined) map.set(k, (list = []));
    return list;
  }

  /** The defaultBackend in force (the oldest Ingress's). */
  get defaultBackend(): RouteBackend | undefined {
    return this.#defaultBackend;
  }

  /** The backend for a request to `host` (see {@link hostOf}) and URL path `path`; undefined when nothing matches. */
  match(host: string, path: string): RouteMatch {
    const groups: (PathRule[] | undefined)[] = [this.#exact.get(host)];
    const dot = host.indexOf(".");
    if (dot > 0) groups.push(this.#wildcard.get(host.slice(dot + 1)));
    groups.push(this.#any);
    for (const rules of groups) {
      if (rules === undefined) continue;
      for (const rule of rules) if (pathMatches(rule, path)) return { backend: rule.backend, rule };
    }
    return this.#defaultBackend === undefined ? undefined : { backend: this.#defaultBackend };
  }

  /** How many path rules the table holds (logs, diagnostics). */
  get size(): number {
    let n = this.#any.length;
    for (const l of this.#exact.values()) n += l.length;
    for (const l of this.#wildcard.values()) n += l.length;
    return n;
  }
}
