/**
 * DefaultTolerationSeconds, as upstream's
 * plugin/pkg/admission/defaulttolerationseconds: a pod that does not already
 * tolerate `node.kubernetes.io/not-ready:NoExecute` or
 * `node.kubernetes.io/unreachable:NoExecute` gets a toleration for each
 * (operator Exists, 300 s by default), so the node lifecycle controller
 * evicts it that long after its node goes NotReady or unreachable.
 */
import type { AdmissionPlugin } from "./admission.js";

export const TAINT_NODE_NOT_READY = "node.kubernetes.io/not-ready";
export const TAINT_NODE_UNREACHABLE = "node.kubernetes.io/unreachable";

export interface DefaultTolerationSecondsOptions {
  /** kube-apiserver's --default-not-ready-toleration-seconds; 300 by default. */
  readonly notReadyTolerationSeconds?: number;
  /** kube-apiserver's --default-unreachable-toleration-seconds; 300 by default. */
  readonly unreachableTolerationSeconds?: number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Upstream's check: an empty key or effect is a wildcard; the operator is not looked at. */
function tolerates(tolerations: readonly Obj[], key: string): boolean {
  return tolerations.some((t) => {
    const k = typeof t.key === "string" ? t.key : "";
    const e = typeof t.effect === "string" ? t.effect : "";
    return (k === key || k === "") && (e === "NoExecute" || e === "");
  });
}

export function defaultTolerationSeconds(opts: DefaultTolerationSecondsOptions = {}): AdmissionPlugin {
  const notReady = opts.notReadyTolerationSeconds ?? 300;
  const unreachable = opts.unreachableTolerationSeconds ?? 300;
  return {
    name: "DefaultTolerationSeconds",
    admit(a) {
      // Upstream handles CREATE and UPDATE (an update may only add tolerations, so this is safe).
      if (a.operation !== "CREATE" && a.operation !== "UPDATE") return;
      if (a.resource.group !== "" || a.resource.plural !== "pods" || a.subresource !== "") return;
      const pod = a.object;
      if (!pod) return;
      const spec = (isObj(pod.spec) ? pod.spec : (pod.spec = {})) as Obj;
      const existing = Array.isArray(spec.tolerations) ? (spec.tolerations as unknown[]).filter(isObj) : [];
      const add: Obj[] = [];
      if (!tolerates(existing, TAINT_NODE_NOT_READY)) {
        add.push({ key: TAINT_NODE_NOT_READY, operator: "Exists", effect: "NoExecute", tolerationSeconds: notReady });
      }
      if (!tolerates(existing, TAINT_NODE_UNREACHABLE)) {
        add.push({ key: TAINT_NODE_UNREACHABLE, operator: "Exists", effect: "NoExecute", tolerationSeconds: unreachable });
      }
      if (add.length > 0) spec.tolerations = [...(Array.isArray(spec.tolerations) ? spec.tolerations : []), ...add];
    },
  };
}
