/**
 * The RBAC objects in memory, indexed by subject, and the rule resolution
 * over them (upstream's DefaultRuleResolver.VisitRulesFor): for a user and
 * a namespace, every rule of every ClusterRoleBinding, then of every
 * RoleBinding in that namespace, that binds one of the user's subjects,
 * each with the binding that granted it (for the "allowed by" reason).
 *
 * Requests ask this on every call, so bindings are indexed by subject
 * (`User:alice`, `Group:devs`, `ServiceAccount:ns/name`) and each
 * (user, groups, namespace) resolution is cached until an RBAC object
 * changes: 200 RoleBindings for other subjects cost nothing.
 */
import type { ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject } from "kubernetes-types/rbac/v1.js";
import type { UserInfo } from "../authn.js";

/** One rule and the binding it came through. */
export interface SourcedRule {
  readonly rule: PolicyRule;
  /** Upstream's describer: `ClusterRoleBinding "x" of ClusterRole "y" to User "z"`. */
  readonly source: () => string;
}

/** The rules a user holds in a namespace, and the bindings whose roles could not be found. */
export interface ResolvedRules {
  readonly rules: readonly SourcedRule[];
  readonly errors: readonly string[];
}

type Binding = ClusterRoleBinding | RoleBinding;

const SA_PREFIX = "system:serviceaccount:";

function subjectKey(s: Subject, bindingNamespace: string): string | undefined {
  switch (s.kind) {
    case "User":
      return `User:${s.name}`;
    case "Group":
      return `Group:${s.name}`;
    case "ServiceAccount": {
      // A RoleBinding's ServiceAccount subject without a namespace means the binding's own (upstream's appliesTo).
      const ns = s.namespace || bindingNamespace;
      return ns ? `ServiceAccount:${ns}/${s.name}` : undefined;
    }
    default:
      return undefined;
  }
}

/** The subject keys a user answers to. */
export function userSubjectKeys(user: UserInfo): string[] {
  const keys = [`User:${user.username}`, ...user.groups.map((g) => `Group:${g}`)];
  if (user.username.startsWith(SA_PREFIX)) {
    const parts = user.username.slice(SA_PREFIX.length).split(":");
    if (parts.length === 2 && parts[0] && parts[1]) keys.push(`ServiceAccount:${parts[0]}/${parts[1]}`);
  }
  return keys;
}

/** Upstream's describeSubject. */
function describeSubject(s: Subject, bindingNamespace: string): string {
  if (s.kind === "ServiceAccount") return `${s.kind} ${JSON.stringify(`${s.name}/${s.namespace || bindingNamespace}`)}`;
  return `${s.kind} ${JSON.stringify(s.name)}`;
}

interface Indexed {
  readonly binding: Binding;
  /** Position of the subject that matched: upstream describes the first subject that applies. */
  readonly subject: number;
}

export class PolicyIndex {
  private readonly clusterRoles = new Map<string, ClusterRole>();
  private readonly roles = new Map<string, Role>();
  private readonly clusterRoleBindings = new Map<string, ClusterRoleBinding>();
  private readonly roleBindings = new Map<string, RoleBinding>();
  /** subject key → cluster role bindings; namespace → subject key → role bindings. Rebuilt lazily after a change. */
  private crbBySubject?: Map<string, Indexed[]>;
  private rbBySubject?: Map<string, Map<string, Indexed[]>>;
  private readonly cache = new Map<string, ResolvedRules>();
  /** Bumped on every change; watchers of the index (escalation checks) compare it. */
  generation = 0;

  /** Applies one added/modified object, or a deleted one when `deleted`. */
  apply(kind: "ClusterRole" | "Role" | "ClusterRoleBinding" | "RoleBinding", obj: ClusterRole | Role | Binding, deleted = false): void {
    const key = `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`;
    const map = this.mapOf(kind) as Map<string, typeof obj>;
    if (deleted) map.delete(key);
    else map.set(key, obj);
    this.changed(kind.endsWith("Binding"));
  }

  /** Replaces every object of a kind (a relist). */
  replace(kind: "ClusterRole" | "Role" | "ClusterRoleBinding" | "RoleBinding", objs: readonly (ClusterRole | Role | Binding)[]): void {
    const map = this.mapOf(kind) as Map<string, unknown>;
    map.clear();
    for (const o of objs) map.set(`${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`, o);
    this.changed(kind.endsWith("Binding"));
  }

  getClusterRole(name: string): ClusterRole | undefined {
    return this.clusterRoles.get(`/${name}`);
  }

  getRole(namespace: string, name: string): Role | undefined {
    return this.roles.get(`${namespace}/${name}`);
  }

  /** Every cluster role (the aggregation controller's selector input is the API, this is for tests and tools). */
  listClusterRoles(): ClusterRole[] {
    return [...this.clusterRoles.values()];
  }

  private mapOf(kind: string): Map<string, unknown> {
    if (kind === "ClusterRole") return this.clusterRoles;
    if (kind === "Role") return this.roles;
    if (kind === "ClusterRoleBinding") return this.clusterRoleBindings;
    return this.roleBindings;
  }

  private changed(bindings: boolean): void {
    this.generation++;
    this.cache.clear();
    if (bindings) {
      this.crbBySubject = undefined;
      this.rbBySubject = undefined;
    }
  }

  private index(): void {
    const crb = new Map<string, Indexed[]>();
    for (const b of this.clusterRoleBindings.values()) add(crb, b, "");
    const rb = new Map<string, Map<string, Indexed[]>>();
    for (const b of this.roleBindings.values()) {
      const ns = b.metadata?.namespace ?? "";
      let m = rb.get(ns);
      if (!m) rb.set(ns, (m = new Map()));
      add(m, b, ns);
    }
    this.crbBySubject = crb;
    this.rbBySubject = rb;
    function add(m: Map<string, Indexed[]>, b: Binding, ns: string) {
      (b.subjects ?? []).forEach((s, i) => {
        const k = subjectKey(s, ns);
        if (!k) return;
        let list = m.get(k);
        if (!list) m.set(k, (list = []));
        if (!list.some((x) => x.binding === b)) list.push({ binding: b, subject: i });
      });
    }
  }

  /** The rules of a role reference, or the upstream NotFound text. */
  roleRefRules(ref: { kind: string; name: string }, namespace: string): { rules?: readonly PolicyRule[]; error?: string } {
    if (ref.kind === "ClusterRole") {
      const r = this.getClusterRole(ref.name);
      return r ? { rules: r.rules ?? [] } : { error: `clusterrole.rbac.authorization.k8s.io ${JSON.stringify(ref.name)} not found` };
    }
    if (ref.kind === "Role") {
      const r = this.getRole(namespace, ref.name);
      return r ? { rules: r.rules ?? [] } : { error: `role.rbac.authorization.k8s.io ${JSON.stringify(ref.name)} not found` };
    }
    return { error: `unsupported role reference kind: ${JSON.stringify(ref.kind)}` };
  }

  /** Upstream's VisitRulesFor, collected: cluster-wide bindings first, then the namespace's. */
  rulesFor(user: UserInfo, namespace: string): ResolvedRules {
    const cacheKey = `${user.username}\u0000${user.groups.join("\u0001")}\u0000${namespace}`;
    const hit = this.cache.get(cacheKey);
    if (hit) return hit;
    if (!this.crbBySubject || !this.rbBySubject) this.index();
    const keys = userSubjectKeys(user);
    const rules: SourcedRule[] = [];
    const errors: string[] = [];
    const visit = (matches: Indexed[], kind: "ClusterRoleBinding" | "RoleBinding", ns: string) => {
      for (const { binding, subject } of matches) {
        const ref = binding.roleRef;
        const { rules: rr, error } = this.roleRefRules(ref, ns);
        if (error) {
          if (!errors.includes(error)) errors.push(error);
          continue;
        }
        const s = binding.subjects![subject]!;
        const name = kind === "RoleBinding" ? `${binding.metadata?.name}/${ns}` : (binding.metadata?.name ?? "");
        let described: string | undefined;
        const source = () => (described ??= `${kind} ${JSON.stringify(name)} of ${ref.kind} ${JSON.stringify(ref.name)} to ${describeSubject(s, ns)}`);
        for (const rule of rr!) rules.push({ rule, source });
      }
    };
    visit(collect(this.crbBySubject!, keys), "ClusterRoleBinding", "");
    if (namespace) {
      const m = this.rbBySubject!.get(namespace);
      if (m) visit(collect(m, keys), "RoleBinding", namespace);
    }
    const out = { rules, errors };
    // Bounded: distinct (user, groups, namespace) triples are few in practice; a flood of them just restarts the cache.
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(cacheKey, out);
    return out;
  }
}

/** The bindings under any of `keys`, each once, in the order first met. */
function collect(m: Map<string, Indexed[]>, keys: readonly string[]): Indexed[] {
  const out: Indexed[] = [];
  const seen = new Map<Binding, number>();
  for (const k of keys) {
    for (const x of m.get(k) ?? []) {
      const at = seen.get(x.binding);
      if (at === undefined) {
        seen.set(x.binding, out.length);
        out.push(x);
      } else if (x.subject < out[at]!.subject) out[at] = x;
    }
  }
  return out;
}
