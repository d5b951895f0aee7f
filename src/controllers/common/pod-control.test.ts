import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Pod, PodTemplateSpec } from "kubernetes-types/core/v1.js";
import type { EventSubject } from "../../client/event-recorder.js";
import { notFound, StatusError } from "../../machinery/status-error.js";
import { newControllerRef, ownerReference } from "./controller-ref.js";
import { getPodFromTemplate, getPodsPrefix, type PodApi, type PodEventRecorder, RealPodControl, validateControllerRef } from "./pod-control.js";

const GVK = { apiVersion: "apps/v1", kind: "ReplicaSet" };
const owner = { name: "web", namespace: "default", uid: "rs-uid", resourceVersion: "7" };
const template: PodTemplateSpec = {
  metadata: { labels: { app: "web" }, annotations: { a: "1" }, finalizers: ["example.com/f"] },
  spec: { containers: [{ name: "c", image: "busybox" }] },
};

interface Recorded {
  regarding: EventSubject;
  related?: EventSubject;
  type: string;
  reason: string;
  action: string;
  note: string;
}

function harness(api: Partial<PodApi>) {
  const events: Recorded[] = [];
  const recorder: PodEventRecorder = {
    eventf(regarding, related, type, reason, action, note, ...args) {
      events.push({ regarding, ...(related ? { related } : {}), type, reason, action, note: args.reduce<string>((s, a) => s.replace("%s", String(a)), note) });
    },
  };
  const pods: PodApi = {
    create: api.create ?? (async (_ns, p) => ({ ...p, metadata: { ...p.metadata, name: `${p.metadata?.generateName}abcde` } })),
    delete: api.delete ?? (async () => {}),
    patch: api.patch ?? (async () => ({}) as Pod),
  };
  return { events, control: new RealPodControl({ pods, recorder }) };
}

describe("getPodFromTemplate", () => {
  it("copies labels, annotations, finalizers and spec, names by the owner, and sets the controllerRef", () => {
    const ref = newControllerRef(owner, GVK);
    const pod = getPodFromTemplate(template, "web", ref);
    assert.deepEqual(pod, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        generateName: "web-",
        labels: { app: "web" },
        annotations: { a: "1" },
        finalizers: ["example.com/f"],
        ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "web", uid: "rs-uid", controller: true, blockOwnerDeletion: true }],
      },
      spec: { containers: [{ name: "c", image: "busybox" }] },
    });
    // Copies, never the template's own objects.
    assert.notEqual(pod.metadata?.labels, template.metadata?.labels);
    assert.notEqual(pod.spec, template.spec);
  });

  it("leaves empty maps and lists out, as Go's omitempty", () => {
    const pod = getPodFromTemplate({ metadata: { labels: {}, finalizers: [] }, spec: { containers: [] } }, "x", undefined);
    assert.deepEqual(pod.metadata, { generateName: "x-" });
  });
});

describe("getPodsPrefix", () => {
  it("appends a dash when the result is a valid generateName, as upstream", () => {
    assert.equal(getPodsPrefix("web"), "web-");
    assert.equal(getPodsPrefix("a".repeat(252)), `${"a".repeat(252)}-`);
    assert.equal(getPodsPrefix("a".repeat(253)), "a".repeat(253));
    assert.equal(getPodsPrefix("Web"), "Web", "an invalid name stays as it is; the server rejects it");
  });
});

describe("validateControllerRef", () => {
  it("names what is missing, in upstream's words", () => {
    const ok = newControllerRef(owner, GVK);
    assert.equal(validateControllerRef(ok), undefined);
    assert.equal(validateControllerRef(undefined), "controllerRef is nil");
    assert.equal(validateControllerRef({ ...ok, apiVersion: "" }), "controllerRef has empty APIVersion");
    assert.equal(validateControllerRef({ ...ok, kind: "" }), "controllerRef has empty Kind");
    assert.equal(validateControllerRef({ ...ok, controller: false }), "controllerRef.Controller is not set to true");
    assert.equal(validateControllerRef({ ...ok, blockOwnerDeletion: undefined }), "controllerRef.BlockOwnerDeletion is not set");
  });
});

describe("RealPodControl", () => {
  const ref = newControllerRef(owner, GVK);
  const subject = ownerReference(owner, GVK);

  it("creates the pod in the namespace and records SuccessfulCreate on the owner", async () => {
    let sent: { ns: string; pod: Pod } | undefined;
    const h = harness({
      create: async (ns, pod) => {
        sent = { ns, pod };
        return { ...pod, metadata: { ...pod.metadata, name: "web-x7k2p", uid: "pod-uid" } };
      },
    });
    await h.control.createPods("default", template, subject, ref);
    assert.equal(sent?.ns, "default");
    assert.equal(sent?.pod.metadata?.generateName, "web-");
    // The pod is the event's `related` object, so events about different pods stay apart.
    assert.deepEqual(h.events, [
      {
        regarding: subject,
        related: { apiVersion: "v1", kind: "Pod", namespace: "default", name: "web-x7k2p", uid: "pod-uid" },
        type: "Normal",
        reason: "SuccessfulCreate",
        action: "Create",
        note: "Created pod: web-x7k2p",
      },
    ]);
  });

  it("records FailedCreate with the server's message and rejects with the same error", async () => {
    const err = new StatusError({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", reason: "Forbidden", code: 403, message: 'pods "web-" is forbidden: exceeded quota' });
    const h = harness({
      create: async () => {
        throw err;
      },
    });
    await assert.rejects(h.control.createPods("default", template, subject, ref), (e) => e === err);
    assert.deepEqual(
      h.events.map((e) => [e.type, e.reason, e.note]),
      [["Warning", "FailedCreate", 'Error creating: pods "web-" is forbidden: exceeded quota']],
    );
  });

  it("records nothing when the namespace is terminating", async () => {
    const err = new StatusError({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      reason: "Forbidden",
      code: 403,
      message: "unable to create new content in namespace default because it is being terminated",
      details: { causes: [{ reason: "NamespaceTerminating", message: "namespace default is being terminated", field: "metadata.namespace" }] },
    });
    const h = harness({
      create: async () => {
        throw err;
      },
    });
    await assert.rejects(h.control.createPods("default", template, subject, ref));
    assert.deepEqual(h.events, []);
  });

  it("refuses pods without labels and controllerRefs that are not controllers", async () => {
    const h = harness({});
    await assert.rejects(h.control.createPods("default", { spec: { containers: [] } }, subject, ref), /^Error: unable to create pods, no labels$/);
    await assert.rejects(h.control.createPods("default", template, subject, { ...ref, controller: false }), /controllerRef.Controller is not set to true/);
    assert.deepEqual(h.events, []);
  });

  it("uses an explicit generateName", async () => {
    let sent: Pod | undefined;
    const h = harness({
      create: async (_ns, pod) => {
        sent = pod;
        return pod;
      },
    });
    await h.control.createPodsWithGenerateName("default", template, subject, ref, "hello-");
    assert.equal(sent?.metadata?.generateName, "hello-");
  });

  it("records SuccessfulDelete, passes NotFound through without an event, wraps other failures", async () => {
    const gone = notFound({ group: "", resource: "pods" }, "p1");
    let fail: unknown;
    const h = harness({
      delete: async () => {
        if (fail) throw fail;
      },
    });
    await h.control.deletePod("default", "p0", subject);
    fail = gone;
    await assert.rejects(h.control.deletePod("default", "p1", subject), (e) => e === gone);
    fail = new Error("connection reset");
    await assert.rejects(h.control.deletePod("default", "p2", subject), /^Error: unable to delete pods: connection reset$/);
    assert.deepEqual(
      h.events.map((e) => [e.type, e.reason, e.action, e.note, e.related]),
      [
        ["Normal", "SuccessfulDelete", "Delete", "Deleted pod: p0", { apiVersion: "v1", kind: "Pod", namespace: "default", name: "p0" }],
        ["Warning", "FailedDelete", "Delete", "Error deleting: connection reset", undefined],
      ],
    );
  });
});
