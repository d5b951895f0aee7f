import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DOC } from "./descriptions.js";
import { columnDefinitions, hasPrinter, printTable, printedResources } from "./table.js";

const now = new Date("2024-06-01T12:00:00Z");
const pod = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "p", namespace: "default", uid: "u-1", resourceVersion: "42", creationTimestamp: "2024-06-01T11:00:00Z", labels: { app: "x" } },
  spec: { containers: [{ name: "c", image: "i" }] },
  status: { phase: "Running" },
};

describe("Table envelope", () => {
  test("kind, apiVersion and all columns, wide ones included", () => {
    const t = printTable("pods", [pod], { now, includeObject: "None" });
    assert.equal(t.kind, "Table");
    assert.equal(t.apiVersion, "meta.k8s.io/v1");
    assert.equal(t.columnDefinitions.length, 9);
    assert.deepEqual(t.columnDefinitions[0], { name: "Name", type: "string", format: "name", description: DOC.name, priority: 0 });
    assert.deepEqual(t.columnDefinitions[5], { name: "IP", type: "string", format: "", description: DOC.podIP, priority: 1 });
  });

  test("includeObject=None leaves rows without an object", () => {
    const t = printTable("pods", [pod], { now, includeObject: "None" });
    assert.ok(!("object" in t.rows[0]!));
  });

  test("includeObject=Metadata puts a PartialObjectMetadata in each row", () => {
    const t = printTable("pods", [pod], { now, includeObject: "Metadata" });
    assert.deepEqual(t.rows[0]!.object, { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: pod.metadata });
    const b = printTable("pods", [pod], { now, includeObject: "Metadata", groupVersion: "meta.k8s.io/v1beta1" });
    assert.equal(b.apiVersion, "meta.k8s.io/v1beta1");
    assert.equal((b.rows[0]!.object as { apiVersion: string }).apiVersion, "meta.k8s.io/v1beta1");
  });

  test("includeObject=Object puts the object itself in each row", () => {
    const t = printTable("pods", [pod], { now, includeObject: "Object" });
    assert.equal(t.rows[0]!.object, pod);
  });

  test("list metadata is carried; a single object lends its resourceVersion", () => {
    const list = printTable("pods", [pod, pod], {
      now,
      includeObject: "None",
      listMeta: { resourceVersion: "77", continue: "tok", remainingItemCount: 3 },
    });
    assert.deepEqual(list.metadata, { resourceVersion: "77", continue: "tok", remainingItemCount: 3 });
    assert.equal(list.rows.length, 2);
    assert.deepEqual(printTable("pods", [pod], { now, includeObject: "None" }).metadata, { resourceVersion: "42" });
    assert.deepEqual(printTable("pods", [], { now, includeObject: "None", listMeta: {} }).metadata, {});
    assert.deepEqual(printTable("pods", [], { now, includeObject: "None", listMeta: { resourceVersion: "5" } }).rows, []);
  });

  test("noHeaders drops the column definitions, not the cells", () => {
    const t = printTable("pods", [pod], { now, includeObject: "None", noHeaders: true });
    assert.deepEqual(t.columnDefinitions, []);
    assert.equal(t.rows[0]!.cells.length, 9);
  });

  test("row conditions appear only for completed pods", () => {
    const done = { ...pod, status: { phase: "Succeeded" } };
    const t = printTable("pods", [pod, done], { now, includeObject: "None" });
    assert.ok(!("conditions" in t.rows[0]!));
    assert.deepEqual(t.rows[1]!.conditions, [
      { type: "Completed", status: "True", reason: "Succeeded", message: "The pod has completed successfully." },
    ]);
  });

  test("JSON has upstream's key order", () => {
    const t = printTable("namespaces", [{ metadata: { name: "n", creationTimestamp: "2024-06-01T11:00:00Z" } }], {
      now,
      includeObject: "None",
      listMeta: { resourceVersion: "1" },
    });
    const json = JSON.stringify(t);
    assert.ok(json.startsWith('{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"1"},"columnDefinitions":[{"name":"Name","type":"string","format":"name",'));
    assert.ok(json.endsWith('"rows":[{"cells":["n","Active","60m"]}]}'));
  });
});

/**
 * Column sets of upstream's AddHandlers at v1.30, written out by hand:
 * [name, type, priority]. A trailing "*" on the name marks format "name".
 */
const COLUMNS: Record<string, [string, string, number][]> = {
  pods: [["Name*", "string", 0], ["Ready", "string", 0], ["Status", "string", 0], ["Restarts", "string", 0], ["Age", "string", 0], ["IP", "string", 1], ["Node", "string", 1], ["Nominated Node", "string", 1], ["Readiness Gates", "string", 1]],
  podtemplates: [["Name*", "string", 0], ["Containers", "string", 0], ["Images", "string", 0], ["Pod Labels", "string", 0]],
  namespaces: [["Name*", "string", 0], ["Status", "string", 0], ["Age", "string", 0]],
  nodes: [["Name*", "string", 0], ["Status", "string", 0], ["Roles", "string", 0], ["Age", "string", 0], ["Version", "string", 0], ["Internal-IP", "string", 1], ["External-IP", "string", 1], ["OS-Image", "string", 1], ["Kernel-Version", "string", 1], ["Container-Runtime", "string", 1]],
  services: [["Name*", "string", 0], ["Type", "string", 0], ["Cluster-IP", "string", 0], ["External-IP", "string", 0], ["Port(s)", "string", 0], ["Age", "string", 0], ["Selector", "string", 1]],
  endpoints: [["Name*", "string", 0], ["Endpoints", "string", 0], ["Age", "string", 0]],
  "endpointslices.discovery.k8s.io": [["Name*", "string", 0], ["AddressType", "string", 0], ["Ports", "string", 0], ["Endpoints", "string", 0], ["Age", "string", 0]],
  configmaps: [["Name*", "string", 0], ["Data", "string", 0], ["Age", "string", 0]],
  secrets: [["Name*", "string", 0], ["Type", "string", 0], ["Data", "string", 0], ["Age", "string", 0]],
  serviceaccounts: [["Name*", "string", 0], ["Secrets", "string", 0], ["Age", "string", 0]],
  events: [["Last Seen", "string", 0], ["Type", "string", 0], ["Reason", "string", 0], ["Object", "string", 0], ["Subobject", "string", 1], ["Source", "string", 1], ["Message", "string", 0], ["First Seen", "string", 1], ["Count", "string", 1], ["Name*", "string", 1]],
  "deployments.apps": [["Name*", "string", 0], ["Ready", "string", 0], ["Up-to-date", "string", 0], ["Available", "string", 0], ["Age", "string", 0], ["Containers", "string", 1], ["Images", "string", 1], ["Selector", "string", 1]],
  "replicasets.apps": [["Name*", "string", 0], ["Desired", "integer", 0], ["Current", "integer", 0], ["Ready", "integer", 0], ["Age", "string", 0], ["Containers", "string", 1], ["Images", "string", 1], ["Selector", "string", 1]],
  replicationcontrollers: [["Name*", "string", 0], ["Desired", "integer", 0], ["Current", "integer", 0], ["Ready", "integer", 0], ["Age", "string", 0], ["Containers", "string", 1], ["Images", "string", 1], ["Selector", "string", 1]],
  "statefulsets.apps": [["Name*", "string", 0], ["Ready", "string", 0], ["Age", "string", 0], ["Containers", "string", 1], ["Images", "string", 1]],
  "daemonsets.apps": [["Name*", "string", 0], ["Desired", "integer", 0], ["Current", "integer", 0], ["Ready", "integer", 0], ["Up-to-date", "integer", 0], ["Available", "integer", 0], ["Node Selector", "string", 0], ["Age", "string", 0], ["Containers", "string", 1], ["Images", "string", 1], ["Selector", "string", 1]],
  "controllerrevisions.apps": [["Name*", "string", 0], ["Controller", "string", 0], ["Revision", "string", 0], ["Age", "string", 0]],
  "jobs.batch": [["Name*", "string", 0], ["Status", "string", 0], ["Completions", "string", 0], ["Duration", "string", 0], ["Age", "string", 0], ["Containers", "string", 1], ["Images", "string", 1], ["Selector", "string", 1]],
  "cronjobs.batch": [["Name*", "string", 0], ["Schedule", "string", 0], ["Timezone", "string", 0], ["Suspend", "boolean", 0], ["Active", "integer", 0], ["Last Schedule", "string", 0], ["Age", "string", 0], ["Containers", "string", 1], ["Images", "string", 1], ["Selector", "string", 1]],
  "ingresses.networking.k8s.io": [["Name*", "string", 0], ["Class", "string", 0], ["Hosts", "string", 0], ["Address", "string", 0], ["Ports", "string", 0], ["Age", "string", 0]],
  "ingressclasses.networking.k8s.io": [["Name*", "string", 0], ["Controller", "string", 0], ["Parameters", "string", 0], ["Age", "string", 0]],
  "networkpolicies.networking.k8s.io": [["Name*", "string", 0], ["Pod-Selector", "string", 0], ["Age", "string", 0]],
  persistentvolumes: [["Name*", "string", 0], ["Capacity", "string", 0], ["Access Modes", "string", 0], ["Reclaim Policy", "string", 0], ["Status", "string", 0], ["Claim", "string", 0], ["StorageClass", "string", 0], ["VolumeAttributesClass", "string", 0], ["Reason", "string", 0], ["Age", "string", 0], ["VolumeMode", "string", 1]],
  persistentvolumeclaims: [["Name*", "string", 0], ["Status", "string", 0], ["Volume", "string", 0], ["Capacity", "string", 0], ["Access Modes", "string", 0], ["StorageClass", "string", 0], ["VolumeAttributesClass", "string", 0], ["Age", "string", 0], ["VolumeMode", "string", 1]],
  "storageclasses.storage.k8s.io": [["Name*", "string", 0], ["Provisioner", "string", 0], ["ReclaimPolicy", "string", 0], ["VolumeBindingMode", "string", 0], ["AllowVolumeExpansion", "string", 0], ["Age", "string", 0]],
  "leases.coordination.k8s.io": [["Name*", "string", 0], ["Holder", "string", 0], ["Age", "string", 0]],
  "priorityclasses.scheduling.k8s.io": [["Name*", "string", 0], ["Value", "integer", 0], ["Global-Default", "boolean", 0], ["Age", "string", 0]],
  "poddisruptionbudgets.policy": [["Name*", "string", 0], ["Min Available", "string", 0], ["Max Unavailable", "string", 0], ["Allowed Disruptions", "integer", 0], ["Age", "string", 0]],
  "horizontalpodautoscalers.autoscaling": [["Name*", "string", 0], ["Reference", "string", 0], ["Targets", "string", 0], ["MinPods", "string", 0], ["MaxPods", "string", 0], ["Replicas", "string", 0], ["Age", "string", 0]],
  resourcequotas: [["Name*", "string", 0], ["Age", "string", 0], ["Request", "string", 0], ["Limit", "string", 0]],
  "rolebindings.rbac.authorization.k8s.io": [["Name*", "string", 0], ["Role", "string", 0], ["Age", "string", 0], ["Users", "string", 1], ["Groups", "string", 1], ["ServiceAccounts", "string", 1]],
  "clusterrolebindings.rbac.authorization.k8s.io": [["Name*", "string", 0], ["Role", "string", 0], ["Age", "string", 0], ["Users", "string", 1], ["Groups", "string", 1], ["ServiceAccounts", "string", 1]],
  "mutatingwebhookconfigurations.admissionregistration.k8s.io": [["Name*", "string", 0], ["Webhooks", "integer", 0], ["Age", "string", 0]],
  "validatingwebhookconfigurations.admissionregistration.k8s.io": [["Name*", "string", 0], ["Webhooks", "integer", 0], ["Age", "string", 0]],
  "runtimeclasses.node.k8s.io": [["Name*", "string", 0], ["Handler", "string", 0], ["Age", "string", 0]],
  // rest.NewDefaultTableConvertor
  "roles.rbac.authorization.k8s.io": [["Name*", "string", 0], ["Created At", "date", 0]],
  "clusterroles.rbac.authorization.k8s.io": [["Name*", "string", 0], ["Created At", "date", 0]],
  limitranges: [["Name*", "string", 0], ["Created At", "date", 0]],
  "customresourcedefinitions.apiextensions.k8s.io": [["Name*", "string", 0], ["Created At", "date", 0]],
};

describe("column definitions match upstream's AddHandlers (v1.30)", () => {
  for (const [resource, want] of Object.entries(COLUMNS)) {
    test(resource, () => {
      const got = columnDefinitions(resource).map((c) => [c.format === "name" ? `${c.name}*` : c.name, c.type, c.priority]);
      assert.deepEqual(got, want);
      for (const c of columnDefinitions(resource)) assert.equal(typeof c.description, "string");
    });
  }

  test("events.k8s.io events share the core Event columns", () => {
    assert.deepEqual(columnDefinitions("events.events.k8s.io"), columnDefinitions("events"));
  });

  test("every registered printer has its column set listed here", () => {
    for (const r of printedResources()) {
      if (r === "events.events.k8s.io") continue;
      assert.ok(r in COLUMNS, `${r} has expected columns`);
      assert.ok(hasPrinter(r));
    }
    assert.equal(hasPrinter("roles.rbac.authorization.k8s.io"), false);
  });

  test("descriptions come from the API types' docs", () => {
    const age = columnDefinitions("pods")[4]!;
    assert.equal(
      age.description,
      "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    );
    assert.equal(columnDefinitions("deployments.apps")[2]!.description, "Total number of non-terminated pods targeted by this deployment that have the desired template spec.");
    assert.equal(columnDefinitions("cronjobs.batch")[1]!.description, "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.");
    assert.equal(columnDefinitions("runtimeclasses.node.k8s.io")[1]!.description, "");
  });
});
