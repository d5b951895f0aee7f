import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Pod, Service, ServicePort } from "kubernetes-types/core/v1.js";
import { findPort, serviceSelects, servicesToUpdateOnPodChange, shouldPodBeInEndpoints, shouldSetHostname } from "./pods.js";
import { semanticEqual } from "./semantic.js";
import { formatRFC3339Nano, TriggerTimeTracker } from "./trigger-time-tracker.js";

function pod(over: { ip?: string; ready?: boolean; phase?: string; deleting?: boolean; labels?: Record<string, string>; rv?: string } = {}): Pod {
  return {
    metadata: {
      name: "p",
      namespace: "ns",
      uid: "u1",
      labels: over.labels ?? { app: "a" },
      resourceVersion: over.rv ?? "1",
      ...(over.deleting ? { deletionTimestamp: "2024-01-01T00:00:00Z" } : {}),
    },
    spec: {
      containers: [{ name: "c", ports: [{ name: "http", containerPort: 8080 }, { name: "dns", containerPort: 53, protocol: "UDP" }] }],
      initContainers: [
        { name: "side", restartPolicy: "Always", ports: [{ name: "proxy", containerPort: 15001 }] },
        { name: "init", ports: [{ name: "setup", containerPort: 9999 }] },
      ],
    },
    status: {
      phase: over.phase ?? "Running",
      ...(over.ip ? { podIP: over.ip, podIPs: [{ ip: over.ip }] } : {}),
      conditions: [{ type: "Ready", status: over.ready === false ? "False" : "True" }],
    },
  };
}

describe("shouldPodBeInEndpoints", () => {
  const cases: { name: string; pod: Pod; includeTerminating: boolean; want: boolean }[] = [
    { name: "running with an IP", pod: pod({ ip: "10.0.0.1" }), includeTerminating: false, want: true },
    { name: "unready still belongs (as not ready)", pod: pod({ ip: "10.0.0.1", ready: false }), includeTerminating: false, want: true },
    { name: "no IP yet", pod: pod(), includeTerminating: true, want: false },
    { name: "succeeded", pod: pod({ ip: "10.0.0.1", phase: "Succeeded" }), includeTerminating: true, want: false },
    { name: "failed", pod: pod({ ip: "10.0.0.1", phase: "Failed" }), includeTerminating: true, want: false },
    { name: "terminating, excluded", pod: pod({ ip: "10.0.0.1", deleting: true }), includeTerminating: false, want: false },
    { name: "terminating, included", pod: pod({ ip: "10.0.0.1", deleting: true }), includeTerminating: true, want: true },
  ];
  for (const c of cases) it(c.name, () => assert.equal(shouldPodBeInEndpoints(c.pod, c.includeTerminating), c.want));
});

describe("findPort", () => {
  const cases: { name: string; port: ServicePort; want: number | undefined }[] = [
    { name: "numeric targetPort", port: { port: 80, targetPort: 9000 }, want: 9000 },
    { name: "no targetPort: the port", port: { port: 80 }, want: 80 },
    { name: "named port", port: { port: 80, targetPort: "http" }, want: 8080 },
    { name: "named port needs the protocol to match", port: { port: 53, targetPort: "dns" }, want: undefined },
    { name: "named UDP port", port: { port: 53, targetPort: "dns", protocol: "UDP" }, want: 53 },
    { name: "sidecar init container port", port: { port: 15001, targetPort: "proxy" }, want: 15001 },
    { name: "plain init container port is not served", port: { port: 1, targetPort: "setup" }, want: undefined },
    { name: "unknown name", port: { port: 80, targetPort: "nope" }, want: undefined },
  ];
  for (const c of cases) it(c.name, () => assert.equal(findPort(pod(), c.port), c.want));
});

describe("service membership", () => {
  const svc = (name: string, selector?: Record<string, string>): Service => ({ metadata: { name, namespace: "ns" }, spec: selector ? { selector } : {} });
  it("a Service without a selector selects nothing; an empty one everything", () => {
    assert.equal(serviceSelects(svc("none"), { app: "a" }), false);
    assert.equal(serviceSelects(svc("all", {}), { app: "a" }), true);
    assert.equal(serviceSelects(svc("a", { app: "a" }), { app: "a", x: "y" }), true);
    assert.equal(serviceSelects(svc("b", { app: "b" }), { app: "a" }), false);
  });

  const services = [svc("a", { app: "a" }), svc("b", { app: "b" }), svc("all", {})];
  const cases: { name: string; old: Pod; cur: Pod; want: string[] }[] = [
    { name: "resync (same resourceVersion): nothing", old: pod({ ip: "10.0.0.1" }), cur: pod({ ip: "10.0.0.1" }), want: [] },
    { name: "irrelevant change: nothing", old: pod({ ip: "10.0.0.1" }), cur: pod({ ip: "10.0.0.1", rv: "2" }), want: [] },
    { name: "readiness change: current Services", old: pod({ ip: "10.0.0.1" }), cur: pod({ ip: "10.0.0.1", ready: false, rv: "2" }), want: ["ns/a", "ns/all"] },
    { name: "labels only: Services joined or left", old: pod({ ip: "10.0.0.1" }), cur: pod({ ip: "10.0.0.1", labels: { app: "b" }, rv: "2" }), want: ["ns/a", "ns/b"] },
    {
      name: "labels and IP: old and new Services",
      old: pod({ ip: "10.0.0.1" }),
      cur: pod({ ip: "10.0.0.2", labels: { app: "b" }, rv: "2" }),
      want: ["ns/a", "ns/all", "ns/b"],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual([...servicesToUpdateOnPodChange(services, c.old, c.cur)].sort(), c.want));
});

describe("shouldSetHostname", () => {
  it("only for pods whose subdomain is the Service", () => {
    const p = pod();
    p.spec!.hostname = "h";
    p.spec!.subdomain = "svc";
    assert.equal(shouldSetHostname(p, { metadata: { name: "svc", namespace: "ns" } }), true);
    assert.equal(shouldSetHostname(p, { metadata: { name: "other", namespace: "ns" } }), false);
    assert.equal(shouldSetHostname(p, { metadata: { name: "svc", namespace: "other" } }), false);
    p.spec!.hostname = "";
    assert.equal(shouldSetHostname(p, { metadata: { name: "svc", namespace: "ns" } }), false);
  });
});

describe("semanticEqual", () => {
  it("treats empty values as absent and ignores targetRef resourceVersion", () => {
    assert.ok(semanticEqual({ a: [], b: "", c: {} }, {}));
    assert.ok(semanticEqual([{ ip: "1", targetRef: { name: "p", resourceVersion: "1" } }], [{ ip: "1", targetRef: { name: "p", resourceVersion: "9" } }]));
    assert.ok(!semanticEqual([{ ip: "1" }], [{ ip: "2" }]));
    assert.ok(!semanticEqual({ ready: false }, {}));
  });
});

describe("TriggerTimeTracker", () => {
  const svc: Service = { metadata: { name: "s", namespace: "ns", creationTimestamp: "2024-01-01T00:00:00Z" } };
  const at = (name: string, t: string): Pod => ({ metadata: { name }, status: { conditions: [{ type: "Ready", status: "True", lastTransitionTime: t }] } });
  it("reports the Service's creation first, then the earliest change since the last sync", () => {
    const tr = new TriggerTimeTracker();
    assert.equal(tr.compute("ns", svc, [at("a", "2024-01-01T00:01:00Z")]), Date.parse("2024-01-01T00:00:00Z"));
    assert.equal(tr.compute("ns", svc, [at("a", "2024-01-01T00:01:00Z")]), 0, "nothing changed");
    assert.equal(tr.compute("ns", svc, [at("a", "2024-01-01T00:03:00Z"), at("b", "2024-01-01T00:02:00Z")]), Date.parse("2024-01-01T00:02:00Z"));
    tr.deleteService("ns", "s");
    assert.equal(tr.compute("ns", svc, []), Date.parse("2024-01-01T00:00:00Z"));
  });
  it("formats as Go's RFC3339Nano", () => {
    assert.equal(formatRFC3339Nano(Date.parse("2024-01-01T00:00:00Z")), "2024-01-01T00:00:00Z");
    assert.equal(formatRFC3339Nano(Date.parse("2024-01-01T00:00:00.120Z")), "2024-01-01T00:00:00.12Z");
  });
});
