/**
 * PodSecurity admission, as upstream's built-in plugin
 * (k8s.io/pod-security-admission): namespaces choose a level per mode with
 * `pod-security.kubernetes.io/{enforce,audit,warn}[-version]` labels.
 * Enforce rejects a pod with 403 and upstream's message; warn adds
 * `Warning:` headers (for pods and for workload templates); audit is
 * logged (skiff keeps no audit log). A namespace label change is validated
 * and dry-run against the namespace's pods, which answer with warnings.
 */
import { type Logger, silentLogger } from "../../../machinery/log.js";
import { forbidden, internalError, invalid, type StatusError } from "../../../machinery/status-error.js";
import type { KObject } from "../../registry/types.js";
import type { AdmissionAttributes, AdmissionPlugin } from "../admission.js";
import {
  AUDIT_LEVEL_LABEL,
  AUDIT_VERSION_LABEL,
  compareLevels,
  DEFAULT_POLICY,
  ENFORCE_LEVEL_LABEL,
  ENFORCE_VERSION_LABEL,
  type LevelVersion,
  levelVersionString,
  type Policy,
  policyToEvaluate,
  sameLevelVersion,
  versionString,
  WARN_LEVEL_LABEL,
  WARN_VERSION_LABEL,
} from "./api.js";
import type { PodView } from "./checks.js";
import { type AggregateResult, Evaluator, forbiddenDetail, forbiddenReason } from "./evaluator.js";

/**
 * Admission attributes that can carry warnings back to the client (the
 * `Warning: 299` headers); the request handler collects them.
 */
export type AdmissionAttributesWithWarnings = AdmissionAttributes & { readonly warnings?: string[] };

/** Upstream's PodSecurityConfiguration exemptions. */
export interface PodSecurityExemptions {
  readonly namespaces?: readonly string[];
  readonly usernames?: readonly string[];
  readonly runtimeClasses?: readonly string[];
}

export interface PodSecurityOptions {
  /** Reads a namespace (an ObjectCache or ObjectStore); rejects when it does not exist. */
  readonly namespaces: { get(ns: undefined, name: string): Promise<KObject> };
  /** The pods of a namespace, for the dry run when its enforce level tightens. */
  readonly pods: { list(ns: string): Promise<{ items: KObject[] }> };
  /** The policy of unlabelled namespaces (upstream's configuration defaults): privileged:latest. */
  readonly defaults?: Policy;
  readonly exemptions?: PodSecurityExemptions;
  readonly logger?: Logger;
}

/** Upstream's limit on pods dry-run when a namespace's enforce level changes. */
const NAMESPACE_MAX_PODS_TO_CHECK = 3000;

/** Pod subresources that cannot change the pod spec, so are never evaluated. */
const IGNORED_POD_SUBRESOURCES = new Set(["exec", "attach", "binding", "eviction", "log", "portforward", "proxy", "status"]);

/** Workload resources whose pod template is checked (warn and audit only), as upstream's DefaultPodSpecExtractor. */
const POD_CONTROLLERS = new Set([
  "/replicationcontrollers",
  "/podtemplates",
  "apps/replicasets",
  "apps/deployments",
  "apps/statefulsets",
  "apps/daemonsets",
  "batch/jobs",
  "batch/cronjobs",
]);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

function podView(meta: KObject["metadata"] | Obj | undefined, spec: unknown): PodView {
  const annotations = (isObj(meta) && isObj(meta.annotations) ? meta.annotations : {}) as Record<string, string>;
  return { annotations, spec: isObj(spec) ? spec : {} };
}

/** The pod template of a workload, as upstream's ExtractPodSpec (a CronJob's is one level deeper). */
function templateOf(resourceKey: string, obj: KObject): PodView | undefined {
  const spec = isObj(obj.spec) ? obj.spec : undefined;
  let template: unknown;
  if (resourceKey === "/podtemplates") template = obj.template;
  else if (resourceKey === "batch/cronjobs") {
    const jt = spec && isObj(spec.jobTemplate) ? spec.jobTemplate : undefined;
    template = jt && isObj(jt.spec) ? jt.spec.template : undefined;
  } else template = spec?.template;
  if (!isObj(template)) return undefined;
  return podView(isObj(template.metadata) ? template.metadata : undefined, template.spec);
}

/** Upstream's isSignificantPodUpdate: only image changes (and seccomp annotations) can change the verdict. */
function isSignificantPodUpdate(pod: KObject, old: KObject): boolean {
  const spec = (isObj(pod.spec) ? pod.spec : {}) as Obj;
  const oldSpec = (isObj(old.spec) ? old.spec : {}) as Obj;
  const list = (s: Obj, k: string) => (Array.isArray(s[k]) ? (s[k] as unknown[]).filter(isObj) : []);
  const ann = pod.metadata?.annotations ?? {};
  const oldAnn = old.metadata?.annotations ?? {};
  const changed = (c: Obj, o: Obj) => {
    if (c.image !== o.image) return true;
    const key = `container.seccomp.security.alpha.kubernetes.io/${String(c.name)}`;
    return ann[key] !== oldAnn[key];
  };
  for (const k of ["containers", "initContainers"]) {
    const a = list(spec, k);
    const b = list(oldSpec, k);
    if (a.length !== b.length) return true;
    if (a.some((c, i) => changed(c, b[i]!))) return true;
  }
  const oldEphemeral = list(oldSpec, "ephemeralContainers");
  for (const c of list(spec, "ephemeralContainers")) {
    const o = oldEphemeral.find((e) => e.name === c.name);
    if (!o || changed(c, o)) return true;
  }
  return false;
}

export function podSecurity(opts: PodSecurityOptions): AdmissionPlugin {
  const evaluator = new Evaluator();
  const defaults = opts.defaults ?? DEFAULT_POLICY;
  const exempt = opts.exemptions ?? {};
  const log = opts.logger ?? silentLogger;
  const exemptNamespace = (ns: string) => ns !== "" && (exempt.namespaces ?? []).includes(ns);
  const exemptUser = (u: string) => u !== "" && (exempt.usernames ?? []).includes(u);
  const exemptRuntimeClass = (spec: Obj) => typeof spec.runtimeClassName === "string" && spec.runtimeClassName !== "" && (exempt.runtimeClasses ?? []).includes(spec.runtimeClassName);

  const warn = (a: AdmissionAttributes, message: string) => (a as AdmissionAttributesWithWarnings).warnings?.push(message);
  const denied = (a: AdmissionAttributes, why: string): StatusError => {
    const name = a.name || a.object?.metadata?.name || "";
    const gr = a.resource.group ? `${a.resource.plural}.${a.resource.group}` : a.resource.plural;
    return forbidden(name ? `${gr} "${name}" is forbidden: ${why}` : `${gr} is forbidden: ${why}`, { name, group: a.resource.group, kind: a.resource.plural });
  };

  /** Upstream's EvaluatePod: enforce (when asked), audit, then warn unless already rejected. */
  function evaluatePod(a: AdmissionAttributes, policy: Policy, pod: PodView, enforce: boolean): void {
    if (exemptRuntimeClass(pod.spec)) return;
    const cached = new Map<string, AggregateResult>();
    const run = (lv: LevelVersion) => {
      const key = levelVersionString(lv);
      let r = cached.get(key);
      if (!r) cached.set(key, (r = evaluator.evaluate(lv, pod)));
      return r;
    };
    let rejection: StatusError | undefined;
    if (enforce) {
      const r = run(policy.enforce);
      if (!r.allowed) rejection = denied(a, `violates PodSecurity "${levelVersionString(policy.enforce)}": ${forbiddenDetail(r)}`);
    }
    const audit = run(policy.audit);
    if (!audit.allowed) {
      log.info("PodSecurity audit violation", {
        resource: a.resource.plural,
        object: `${a.namespace}/${a.name || a.object?.metadata?.name || ""}`,
        violation: `would violate PodSecurity "${levelVersionString(policy.audit)}": ${forbiddenDetail(audit)}`,
      });
    }
    if (rejection) throw rejection;
    const w = run(policy.warn);
    if (!w.allowed) warn(a, `would violate PodSecurity "${levelVersionString(policy.warn)}": ${forbiddenDetail(w)}`);
  }

  async function namespacePolicy(a: AdmissionAttributes): Promise<{ policy: Policy; errors: number } | undefined> {
    let ns: KObject;
    try {
      ns = await opts.namespaces.get(undefined, a.namespace);
    } catch (err) {
      log.error("failed to fetch pod namespace", { namespace: a.namespace, err: (err as Error).message });
      return undefined;
    }
    const { policy, errors } = policyToEvaluate(ns.metadata?.labels, defaults);
    return { policy, errors: errors.length };
  }

  async function validatePod(a: AdmissionAttributes): Promise<void> {
    if (IGNORED_POD_SUBRESOURCES.has(a.subresource)) return;
    if (exemptNamespace(a.namespace) || exemptUser(a.user.username)) return;
    const p = await namespacePolicy(a);
    if (!p) throw internalError(`failed to lookup namespace "${a.namespace}"`);
    const { policy, errors } = p;
    if (errors === 0 && policy.enforce.level === "privileged" && policy.audit.level === "privileged" && policy.warn.level === "privileged") return;
    const pod = a.object;
    if (!pod) return;
    if (a.operation === "UPDATE" && a.oldObject && !isSignificantPodUpdate(pod, a.oldObject)) return;
    evaluatePod(a, policy, podView(pod.metadata, pod.spec), true);
  }

  async function validatePodController(a: AdmissionAttributes, key: string): Promise<void> {
    if (a.subresource !== "") return;
    if (exemptNamespace(a.namespace) || exemptUser(a.user.username)) return;
    // A lookup failure never blocks a workload: upstream records it and allows.
    const p = await namespacePolicy(a);
    if (!p) return;
    if (p.errors === 0 && p.policy.warn.level === "privileged" && p.policy.audit.level === "privileged") return;
    const template = a.object ? templateOf(key, a.object) : undefined;
    if (!template) return;
    evaluatePod(a, p.policy, template, false);
  }

  async function validateNamespace(a: AdmissionAttributes): Promise<void> {
    if (a.subresource !== "" || !a.object) return;
    const labels = a.object.metadata?.labels;
    const next = policyToEvaluate(labels, defaults);
    const name = a.object.metadata?.name ?? a.name;
    if (a.operation === "CREATE") {
      if (next.errors.length > 0) throw invalid("Namespace", "", name, next.errors);
      if (exemptNamespace(name)) {
        const w = exemptNamespaceWarning(name, next.policy, labels ?? {});
        if (w) warn(a, w);
      }
      return;
    }
    if (a.operation !== "UPDATE") return;
    const old = policyToEvaluate(a.oldObject?.metadata?.labels, defaults);
    if (next.errors.length > 0 && (old.errors.length === 0 || JSON.stringify(next.errors) !== JSON.stringify(old.errors))) {
      throw invalid("Namespace", "", name, next.errors);
    }
    if (sameLevelVersion(next.policy.enforce, old.policy.enforce)) return;
    if (next.policy.enforce.level === "privileged") return;
    if (versionString(next.policy.enforce.version) === versionString(old.policy.enforce.version) && compareLevels(next.policy.enforce.level, old.policy.enforce.level) < 1) return;
    if (exemptNamespace(name)) {
      const w = exemptNamespaceWarning(name, next.policy, labels ?? {});
      if (w) warn(a, w);
      return;
    }
    for (const w of await evaluatePodsInNamespace(name, next.policy.enforce)) warn(a, w);
  }

  /** Upstream's EvaluatePodsInNamespace: one warning per distinct violation, naming the first pod and counting the rest. */
  async function evaluatePodsInNamespace(namespace: string, enforce: LevelVersion): Promise<string[]> {
    let pods: KObject[];
    try {
      pods = (await opts.pods.list(namespace)).items;
    } catch (err) {
      log.error("failed to list pods", { namespace, err: (err as Error).message });
      return ["failed to list pods while checking new PodSecurity enforce level"];
    }
    // One pod per controller first, as upstream's prioritizePods, so a big ReplicaSet does not crowd out the rest.
    const first: KObject[] = [];
    const repeats: KObject[] = [];
    const seen = new Set<string>();
    for (const pod of pods) {
      const spec = (isObj(pod.spec) ? pod.spec : {}) as Obj;
      if (exemptRuntimeClass(spec)) continue;
      const controller = pod.metadata?.ownerReferences?.find((o) => o.controller === true);
      if (!controller) first.push(pod);
      else if (seen.has(controller.uid)) repeats.push(pod);
      else {
        seen.add(controller.uid);
        first.push(pod);
      }
    }
    const prioritized = [...first, ...repeats];
    const checked = prioritized.slice(0, NAMESPACE_MAX_PODS_TO_CHECK);
    const counts = new Map<string, { podName: string; count: number }>();
    const order: string[] = [];
    for (const pod of checked) {
      const r = evaluator.evaluate(enforce, podView(pod.metadata, pod.spec));
      if (r.allowed) continue;
      const warning = forbiddenReason(r);
      const podName = pod.metadata?.name ?? "";
      const c = counts.get(warning);
      if (!c) {
        counts.set(warning, { podName, count: 1 });
        order.push(warning);
      } else {
        c.count++;
        if (podName < c.podName) c.podName = podName;
      }
    }
    const warnings: string[] = [];
    if (checked.length < prioritized.length) {
      warnings.push(`new PodSecurity enforce level only checked against the first ${checked.length} of ${prioritized.length} existing pods`);
    }
    if (order.length > 0) warnings.push(`existing pods in namespace "${namespace}" violate the new PodSecurity enforce level "${levelVersionString(enforce)}"`);
    const decorated = order.map((w) => {
      const c = counts.get(w)!;
      if (c.count === 1) return `${c.podName}: ${w}`;
      if (c.count === 2) return `${c.podName} (and 1 other pod): ${w}`;
      return `${c.podName} (and ${c.count - 1} other pods): ${w}`;
    });
    return [...warnings, ...decorated.sort()];
  }

  /** Upstream's exemptNamespaceWarning: an exempt namespace that sets a non-privileged policy is told it is ignored. */
  function exemptNamespaceWarning(ns: string, policy: Policy, labels: Readonly<Record<string, string>>): string {
    const allPrivileged = policy.enforce.level === "privileged" && policy.audit.level === "privileged" && policy.warn.level === "privileged";
    const equivalent = (["enforce", "audit", "warn"] as const).every((m) => equivalentLevelVersion(policy[m], defaults[m]));
    if (allPrivileged || equivalent) return "";
    const parts: string[] = [];
    const has = (l: string, v: string) => l in labels || v in labels;
    if (policy.enforce.level !== "privileged" && has(ENFORCE_LEVEL_LABEL, ENFORCE_VERSION_LABEL)) parts.push(`enforce=${levelVersionString(policy.enforce)}`);
    if (policy.audit.level !== "privileged" && has(AUDIT_LEVEL_LABEL, AUDIT_VERSION_LABEL)) parts.push(`audit=${levelVersionString(policy.audit)}`);
    if (policy.warn.level !== "privileged" && has(WARN_LEVEL_LABEL, WARN_VERSION_LABEL)) parts.push(`warn=${levelVersionString(policy.warn)}`);
    return `namespace "${ns}" is exempt from Pod Security, and the policy (${parts.join(", ")}) will be ignored`;
  }

  return {
    name: "PodSecurity",
    async validate(a) {
      if (a.operation !== "CREATE" && a.operation !== "UPDATE") return;
      const key = `${a.resource.group}/${a.resource.plural}`;
      if (key === "/namespaces") return validateNamespace(a);
      if (key === "/pods") return validatePod(a);
      if (POD_CONTROLLERS.has(key)) return validatePodController(a, key);
    },
  };
}

/** Upstream's LevelVersion.Equivalent: privileged at any version is the same policy. */
function equivalentLevelVersion(a: LevelVersion, b: LevelVersion): boolean {
  return a.level === b.level && (a.level === "privileged" || versionString(a.version) === versionString(b.version));
}
