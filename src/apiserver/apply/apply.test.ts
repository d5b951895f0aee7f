import assert from "node:assert/strict";
import { test } from "node:test";
import { StatusError } from "../../machinery/status-error.js";
import type { KObject } from "../registry/types.js";
import { applyPatch, LAST_APPLIED_ANNOTATION, updateManagedFields } from "./apply.js";

const DEPLOY = "io.k8s.api.apps.v1.Deployment";
const CM = "io.k8s.api.core.v1.ConfigMap";
const T0 = new Date("2024-05-01T10:00:00.123Z");
const T1 = new Date("2024-05-01T11:00:00Z");

function deploy(replicas: number, image = "nginx:1", extra: Record<string, unknown> = {}): KObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "default", labels: { app: "web" } },
    spec: {
      replicas,
      selector: { matchLabels: { app: "web" } },
      template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image }] } },
      ...extra,
    },
  };
}

const apply = (live: KObject | undefined, applied: KObject, manager: string, force = false, now = T0) =>
  applyPatch({ live, applied, manager, force, definition: DEPLOY, apiVersion: "apps/v1", now });

function conflictOf(f: () => unknown): StatusError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof StatusError);
    return e;
  }
  assert.fail("expected a conflict");
}

test("create by apply records an Apply entry with fieldsV1", () => {
  const obj = apply(undefined, deploy(2), "mgr");
  assert.equal((obj.spec as { replicas: number }).replicas, 2);
  assert.deepEqual(obj.metadata?.managedFields, [
    {
      manager: "mgr",
      operation: "Apply",
      apiVersion: "apps/v1",
      time: "2024-05-01T10:00:00Z",
      fieldsType: "FieldsV1",
      fieldsV1: {
        "f:metadata": { "f:labels": { "f:app": {} } },
        "f:spec": {
          "f:replicas": {},
          "f:selector": {},
          "f:template": {
            "f:metadata": { "f:labels": { "f:app": {} } },
            "f:spec": { "f:containers": { 'k:{"name":"web"}': { ".": {}, "f:image": {}, "f:name": {} } } },
          },
        },
      },
    },
  ]);
});

test("re-applying the same configuration is a no-op", () => {
  const first = apply(undefined, deploy(2), "mgr");
  const again = apply(first, deploy(2), "mgr", false, T1);
  assert.deepEqual(again, first);
});

test("two managers on different fields coexist", () => {
  const a = apply(undefined, deploy(2), "a");
  const b = apply(a, { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", labels: { team: "x" } } }, "b", false, T1);
  assert.deepEqual(b.metadata?.labels, { app: "web", team: "x" });
  const mf = b.metadata?.managedFields ?? [];
  assert.deepEqual(
    mf.map((e) => [e.manager, e.time]),
    [
      ["a", "2024-05-01T10:00:00Z"],
      ["b", "2024-05-01T11:00:00Z"],
    ],
  );
  assert.deepEqual(mf[1]?.fieldsV1, { "f:metadata": { "f:labels": { "f:team": {} } } });
});

test("same value applied by a second manager shares ownership without conflict", () => {
  const a = apply(undefined, deploy(2), "a");
  const b = apply(a, { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" }, spec: { replicas: 2 } }, "b");
  assert.equal(b.metadata?.managedFields?.length, 2);
});

test("a conflicting value answers 409 with upstream's message and causes", () => {
  const a = apply(undefined, deploy(2), "a");
  const err = conflictOf(() => apply(a, { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" }, spec: { replicas: 5 } }, "b"));
  assert.equal(err.code, 409);
  assert.equal(err.reason, "Conflict");
  assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "a": .spec.replicas');
  assert.deepEqual(err.status.details?.causes, [{ reason: "FieldManagerConflict", message: 'conflict with "a"', field: ".spec.replicas" }]);
});

test("plural conflicts group by manager, Update managers with their apiVersion", () => {
  const created = updateManagedFields({ old: undefined, next: deploy(2), manager: "kubectl-create", operation: "Update", apiVersion: "apps/v1", definition: DEPLOY, now: T0 });
  const err = conflictOf(() => apply(created, deploy(3, "nginx:2"), "b"));
  assert.equal(
    err.message,
    'Apply failed with 2 conflicts: conflicts with "kubectl-create" using apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name="web"].image',
  );
  assert.deepEqual(
    err.status.details?.causes?.map((c) => c.field),
    [".spec.replicas", '.spec.template.spec.containers[name="web"].image'],
  );
  assert.equal(err.status.details?.causes?.[0]?.message, 'conflict with "kubectl-create" using apps/v1');
});

test("force takes ownership", () => {
  const a = apply(undefined, deploy(2), "a");
  const b = apply(a, { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" }, spec: { replicas: 5 } }, "b", true, T1);
  assert.equal((b.spec as { replicas: number }).replicas, 5);
  const [ea, eb] = b.metadata?.managedFields ?? [];
  assert.equal(ea?.manager, "a");
  const aSpec = (ea?.fieldsV1 ?? {}) as { "f:spec"?: Record<string, unknown> };
  assert.equal(aSpec["f:spec"]?.["f:replicas"], undefined);
  assert.deepEqual(eb?.fieldsV1, { "f:spec": { "f:replicas": {} } });
  // a re-applying its old value now conflicts with b.
  const err = conflictOf(() => apply(b, deploy(2), "a"));
  assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "b": .spec.replicas');
});

test("a field dropped from the applied configuration is removed when solely owned", () => {
  const a = apply(undefined, deploy(2, "nginx:1", { minReadySeconds: 5 }), "a");
  const b = apply(a, deploy(2), "a", false, T1);
  assert.equal((b.spec as Record<string, unknown>).minReadySeconds, undefined);
  assert.equal(b.metadata?.managedFields?.[0]?.time, "2024-05-01T11:00:00Z");
});

test("a dropped field someone else also owns stays", () => {
  const a = apply(undefined, deploy(2, "nginx:1", { minReadySeconds: 5 }), "a");
  const b = apply(a, { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" }, spec: { minReadySeconds: 5 } }, "b");
  const c = apply(b, deploy(2), "a", false, T1);
  assert.equal((c.spec as Record<string, unknown>).minReadySeconds, 5);
});

test("list maps merge by key across managers; pruning removes only the manager's own items", () => {
  const a = apply(undefined, deploy(2), "a");
  const sidecar = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web" },
    spec: { template: { spec: { containers: [{ name: "sidecar", image: "envoy:1" }] } } },
  };
  const b = apply(a, sidecar, "b");
  const containers = () => (b.spec as { template: { spec: { containers: { name: string }[] } } }).template.spec.containers;
  assert.deepEqual(
    containers().map((c) => c.name),
    ["web", "sidecar"],
  );
  const c = apply(b, { ...sidecar, spec: { template: { spec: { containers: [] } } } }, "b", false, T1);
  assert.deepEqual(
    (c.spec as { template: { spec: { containers: { name: string }[] } } }).template.spec.containers.map((x) => x.name),
    ["web"],
  );
});

test("list-map keys with several fields encode sorted", () => {
  const svc = applyPatch({
    live: undefined,
    applied: { apiVersion: "v1", kind: "Service", metadata: { name: "s" }, spec: { ports: [{ protocol: "TCP", port: 80 }] } },
    manager: "m",
    force: false,
    definition: "io.k8s.api.core.v1.ServiceSpec".replace("ServiceSpec", "Service"),
    apiVersion: "v1",
    now: T0,
  });
  assert.deepEqual(svc.metadata?.managedFields?.[0]?.fieldsV1, {
    "f:spec": { "f:ports": { 'k:{"port":80,"protocol":"TCP"}': { ".": {}, "f:port": {}, "f:protocol": {} } } },
  });
});

test("apply validates the request", () => {
  assert.throws(() => apply(undefined, deploy(1), ""), /fieldManager: Required value: is required for apply patch/);
  assert.throws(() => apply(undefined, { ...deploy(1), apiVersion: "apps/v1beta1" }, "m"), /does not match the expected API version/);
  assert.throws(() => apply(undefined, { ...deploy(1), metadata: { name: "web", managedFields: [{ manager: "x" }] } }, "m"), /managedFields must be nil/);
});

test("Update operations are recorded per manager and apiVersion, taking fields over", () => {
  const cm = (data: Record<string, string>): KObject => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data });
  const up = (old: KObject | undefined, next: KObject, manager: string, now: Date) =>
    updateManagedFields({ old, next, manager, operation: "Update", apiVersion: "v1", definition: CM, now });
  const created = up(undefined, cm({ a: "1", b: "2" }), "creator", T0);
  assert.deepEqual(created.metadata?.managedFields, [
    { manager: "creator", operation: "Update", apiVersion: "v1", time: "2024-05-01T10:00:00Z", fieldsType: "FieldsV1", fieldsV1: { "f:data": { ".": {}, "f:a": {}, "f:b": {} } } },
  ]);
  const edited = up(created, { ...cm({ a: "9", b: "2" }), metadata: created.metadata }, "editor", T1);
  assert.deepEqual(
    edited.metadata?.managedFields?.map((e) => [e.manager, e.fieldsV1]),
    [
      ["creator", { "f:data": { ".": {}, "f:b": {} } }],
      ["editor", { "f:data": { "f:a": {} } }],
    ],
  );
  // A no-op update changes nothing.
  const same = up(edited, edited, "other", T1);
  assert.deepEqual(same.metadata?.managedFields, edited.metadata?.managedFields);
});

test("kubectl client-side apply then server-side apply: upgrade when unchanged, conflict on fields changed since", () => {
  const csa = (replicas: number): KObject => {
    const d = deploy(replicas);
    const last = JSON.stringify(d);
    return { ...d, metadata: { ...d.metadata, annotations: { [LAST_APPLIED_ANNOTATION]: last } } };
  };
  const up = (old: KObject | undefined, next: KObject) =>
    updateManagedFields({ old, next, manager: "kubectl-client-side-apply", operation: "Update", apiVersion: "apps/v1", definition: DEPLOY, now: T0 });
  const created = up(undefined, csa(2));
  // Live still matches last-applied: kubectl --server-side takes over without a conflict.
  const upgraded = apply(created, deploy(3), "kubectl", false, T1);
  assert.equal((upgraded.spec as { replicas: number }).replicas, 3);
  assert.equal(JSON.parse(upgraded.metadata?.annotations?.[LAST_APPLIED_ANNOTATION] ?? "{}").spec.replicas, 3);
  // replicas changed behind last-applied's back (e.g. kubectl scale by the same manager): conflict.
  const scaled = up(created, { ...created, spec: { ...(created.spec as object), replicas: 7 } });
  const err = conflictOf(() => apply(scaled, deploy(3), "kubectl", false, T1));
  assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas');
  // Another manager name gets no upgrade path.
  assert.throws(() => apply(created, deploy(3), "other"), /conflict with "kubectl-client-side-apply" using apps\/v1/);
});

test("first apply to an object without managedFields attributes existing fields to before-first-apply", () => {
  const err = conflictOf(() => apply(deploy(2), deploy(4), "a"));
  assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: .spec.replicas');
});

test("updateManagedFields on create: the per-shape memo gives what the full field-set walk gives", async () => {
  const definitions = (await import("../../api/openapi/definitions.generated.json", { with: { type: "json" } })).default as never;
  const pod = (i: number, extra: Record<string, unknown> = {}): KObject => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: `p-${i}`, namespace: "default", labels: { app: `a${i}` } },
    spec: { containers: [{ name: "c", image: `img:${i % 2}`, ports: [{ containerPort: 80, protocol: "TCP" }] }], ...extra },
    status: { phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", lastProbeTime: null }] },
  });
  const cases: [KObject, Record<string, unknown>][] = [
    [pod(0), {}],
    [pod(1), {}],
    [pod(2, { nodeSelector: { zone: "a" } }), {}],
    [pod(3, { nodeSelector: { zone: "a" } }), {}],
    [pod(4, { nodeSelector: null }), {}],
    [pod(5), { subresource: "status" }],
    [pod(6), { resetFields: [] }],
    [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" } }, {}],
  ];
  for (const [obj, extra] of cases) {
    for (const manager of ["kubectl", "other"]) {
      const def = obj.kind === "Pod" ? "io.k8s.api.core.v1.Pod" : CM;
      const common = { old: undefined, manager, operation: "Update" as const, apiVersion: "v1", definition: def, now: T1, ...extra };
      const memo = updateManagedFields({ ...common, next: structuredClone(obj) });
      const full = updateManagedFields({ ...common, next: structuredClone(obj), definitions });
      assert.equal(JSON.stringify(memo), JSON.stringify(full));
    }
  }
  // Entries are not shared between objects.
  const a = updateManagedFields({ old: undefined, manager: "m", operation: "Update", apiVersion: "v1", definition: CM, now: T1, next: { metadata: { name: "x" }, data: { k: "v" } } });
  const b = updateManagedFields({ old: undefined, manager: "m", operation: "Update", apiVersion: "v1", definition: CM, now: T1, next: { metadata: { name: "y" }, data: { k: "w" } } });
  assert.notEqual(a.metadata!.managedFields![0]!.fieldsV1, b.metadata!.managedFields![0]!.fieldsV1);
  assert.deepEqual(a.metadata!.managedFields![0]!.fieldsV1, b.metadata!.managedFields![0]!.fieldsV1);
});
