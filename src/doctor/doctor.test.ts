import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ContainerStatus, Event, Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import type { StorageClass } from "kubernetes-types/storage/v1.js";
import { diagnoseDns, diagnoseNodes, diagnoseStore } from "./cluster-health.js";
import { findConnectionErrors, judgeTarget } from "./connection-errors.js";
import { diagnose } from "./diagnose.js";
import { exitCodeMeaning } from "./exit-codes.js";
import { formatReport } from "./format.js";
import { classifyPullError } from "./image-pull.js";
import { parseImageRef } from "./image-ref.js";
import { diagnoseQuota } from "./quota.js";
import { parseSchedulingMessage } from "./scheduling.js";
import { diagnoseTerminatingNamespace } from "./terminating.js";
import { type ClusterView, type Finding, type LogTail, logKey } from "./types.js";
import { diagnoseClaim } from "./volumes.js";

const NOW = new Date("2026-11-29T05:00:00Z");
const ago = (s: number) => new Date(NOW.getTime() - s * 1000).toISOString();

function readyNode(name: string): Node {
  return { metadata: { name }, status: { conditions: [{ type: "Ready", status: "True", reason: "KubeletReady" }] } };
}
const DNS_SVC: Service = { metadata: { name: "kube-dns", namespace: "kube-system" }, spec: { clusterIP: "10.43.0.10", selector: { "k8s-app": "kube-dns" } } };
const DNS_SLICE: EndpointSlice = {
  addressType: "IPv4",
  metadata: { name: "kube-dns-x", namespace: "kube-system", labels: { "kubernetes.io/service-name": "kube-dns" } },
  endpoints: [{ addresses: ["10.42.0.5"], conditions: { ready: true } }],
};

function view(p: Partial<ClusterView>): ClusterView {
  return {
    now: NOW,
    pods: [],
    events: [],
    nodes: [readyNode("n1")],
    pvcs: [],
    pvs: [],
    storageClasses: [],
    services: [DNS_SVC],
    endpointSlices: [DNS_SLICE],
    resourceQuotas: [],
    namespaces: [],
    logs: new Map(),
    ...p,
  };
}

function pod(name: string, spec: Partial<NonNullable<Pod["spec"]>>, status: Pod["status"], ns = "app"): Pod {
  return {
    metadata: { name, namespace: ns, uid: `uid-${name}` },
    spec: { containers: [{ name: "main", image: "busybox" }], ...spec },
    status,
  };
}

function podEvent(p: Pod, reason: string, message: string, type = "Warning", extra: Partial<Event["involvedObject"]> = {}): Event {
  return {
    metadata: { name: `${p.metadata?.name}.${reason}`, namespace: p.metadata?.namespace },
    involvedObject: { kind: "Pod", name: p.metadata?.name, namespace: p.metadata?.namespace, uid: p.metadata?.uid, ...extra },
    reason,
    message,
    type,
    lastTimestamp: ago(10),
  };
}

function waiting(reason: string, message = "", extra: Partial<ContainerStatus> = {}): ContainerStatus {
  return { name: "main", image: "busybox", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason, message } }, ...extra };
}

function only(fs: Finding[], re: RegExp): Finding {
  const hit = fs.filter((f) => re.test(f.cause));
  assert.equal(hit.length, 1, `one finding matching ${re} in:\n${fs.map((f) => f.cause).join("\n")}`);
  return hit[0]!;
}

describe("doctor: image pulls", () => {
  it("sorts pull errors into not found, unauthorized and unreachable", () => {
    assert.equal(classifyPullError('failed to resolve reference "r.local:5000/app:v9": r.local:5000/app:v9: not found'), "not-found");
    assert.equal(classifyPullError("manifest unknown: manifest unknown"), "not-found");
    assert.equal(classifyPullError("pull access denied, repository does not exist or may require authorization: authorization failed"), "unauthorized");
    assert.equal(classifyPullError("unexpected status from HEAD request: 401 Unauthorized"), "unauthorized");
    assert.equal(classifyPullError('dial tcp: lookup r.local on 127.0.0.53:53: no such host'), "unreachable");
    assert.equal(classifyPullError("dial tcp 10.0.0.9:5000: connect: connection refused"), "unreachable");
    assert.equal(classifyPullError("tls: failed to verify certificate: x509: certificate signed by unknown authority"), "unreachable");
  });

  it("parses registry hosts as runtimes do", () => {
    assert.deepEqual(parseImageRef("registry.local:5000/team/app:v1"), { host: "registry.local:5000", repository: "team/app", tag: "v1", digest: undefined });
    assert.equal(parseImageRef("team/app").host, undefined);
    assert.equal(parseImageRef("team/app").tag, "latest");
    assert.equal(parseImageRef("localhost/app@sha256:abc").digest, "sha256:abc");
  });

  it("names the image, the registry and the fix for a wrong tag", () => {
    const image = "registry.local:5000/expense/backend:v9";
    const p = pod("web", { nodeName: "n1", containers: [{ name: "main", image }] }, {
      phase: "Pending",
      containerStatuses: [{ ...waiting("ImagePullBackOff", `Back-off pulling image "${image}"`), image }],
    });
    const ev = podEvent(p, "Failed", `Failed to pull image "${image}": failed to resolve reference "${image}": ${image}: not found`);
    const r = diagnose(view({ pods: [p], events: [ev] }));
    assert.equal(r.healthy, false);
    const f = only(r.findings, /does not exist/);
    assert.equal(f.object, "Pod app/web");
    assert.match(f.cause, /registry\.local:5000/);
    assert.match(f.cause, /expense\/backend:v9/);
    assert.match(f.fix, /tag/);
  });

  it("suggests imagePullSecrets when the registry says unauthorized", () => {
    const image = "registry.local:5000/private/app:v1";
    const p = pod("web", { nodeName: "n1", containers: [{ name: "main", image }] }, {
      phase: "Pending",
      containerStatuses: [{ ...waiting("ErrImagePull", `failed to resolve reference "${image}": pull access denied, repository does not exist or may require authorization: authorization failed`), image }],
    });
    const f = only(diagnose(view({ pods: [p] })).findings, /unauthorized/);
    assert.match(f.fix, /imagePullSecrets/);
    assert.match(f.fix, /docker-registry/);
  });

  it("says the registry is unreachable", () => {
    const image = "nowhere.invalid:5000/app:v1";
    const p = pod("web", { nodeName: "n1", containers: [{ name: "main", image }] }, {
      phase: "Pending",
      containerStatuses: [{ ...waiting("ErrImagePull", "dial tcp: lookup nowhere.invalid: no such host"), image }],
    });
    const f = only(diagnose(view({ pods: [p] })).findings, /cannot reach/);
    assert.match(f.cause, /nowhere\.invalid:5000/);
  });
});

describe("doctor: crash loops", () => {
  const crash = (exitCode: number, reason: string, extra: Partial<Pod["spec"]> = {}) =>
    pod("api", extra, {
      phase: "Running",
      containerStatuses: [
        {
          ...waiting("CrashLoopBackOff", 'back-off 40s restarting failed container=main pod=api_app(uid-api)'),
          restartCount: 4,
          lastState: { terminated: { exitCode, reason, finishedAt: ago(20) } },
        },
      ],
    });

  it("explains exit codes", () => {
    assert.match(exitCodeMeaning(1), /error/);
    assert.match(exitCodeMeaning(137, true), /OOM/);
    assert.match(exitCodeMeaning(137), /SIGKILL/);
    assert.match(exitCodeMeaning(127), /not found/);
    assert.match(exitCodeMeaning(134), /SIGABRT/);
  });

  it("reports the exit code and its meaning with the last log lines", () => {
    const p = crash(1, "Error");
    const logs = new Map<string, LogTail>([[logKey("app", "api", "main"), { lines: ["starting", "fatal: config missing"], previous: true }]]);
    const f = only(diagnose(view({ pods: [p], logs })).findings, /exiting with code 1/);
    assert.ok(f.fix.length > 0);
    assert.ok(f.evidence.some((e) => e.includes("fatal: config missing")));
  });

  it("reports OOM kills with the memory limit", () => {
    const p = crash(137, "OOMKilled", { containers: [{ name: "main", image: "busybox", resources: { limits: { memory: "64Mi" } } }] });
    const f = only(diagnose(view({ pods: [p] })).findings, /OOM-killed/);
    assert.match(f.cause, /64Mi/);
    assert.match(f.fix, /limits\.memory/);
  });

  it("blames a failing liveness probe", () => {
    const p = crash(137, "Error");
    const ev = podEvent(p, "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500", "Warning", { fieldPath: "spec.containers{main}" });
    const f = only(diagnose(view({ pods: [p], events: [ev] })).findings, /liveness probe fails/);
    assert.match(f.fix, /probe/);
  });

  it("names the Service with no ready endpoints behind ECONNREFUSED", () => {
    const p = crash(1, "Error");
    const db: Service = { metadata: { name: "db", namespace: "app" }, spec: { clusterIP: "10.43.0.50", selector: { app: "db" }, ports: [{ port: 3306 }] } };
    const emptySlice: EndpointSlice = { addressType: "IPv4", metadata: { name: "db-x", namespace: "app", labels: { "kubernetes.io/service-name": "db" } }, endpoints: [] };
    const logs = new Map<string, LogTail>([[logKey("app", "api", "main"), { lines: ["Error: connect ECONNREFUSED 10.43.0.50:3306"], previous: true }]]);
    const f = only(diagnose(view({ pods: [p], logs, services: [DNS_SVC, db], endpointSlices: [DNS_SLICE, emptySlice] })).findings, /no ready endpoints/);
    assert.match(f.cause, /app\/db/);
    assert.match(f.fix, /app=db/);
  });

  it("names the name that does not resolve", () => {
    const p = crash(1, "Error");
    const logs = new Map<string, LogTail>([[logKey("app", "api", "main"), { lines: ["Error: getaddrinfo ENOTFOUND mysql"], previous: true }]]);
    const f = only(diagnose(view({ pods: [p], logs })).findings, /does not resolve/);
    assert.match(f.cause, /"mysql"/);
    assert.match(f.fix, /Service "mysql"/);
  });

  it("finds targets in common client messages", () => {
    const errs = findConnectionErrors([
      "dial tcp: lookup db.other.svc.cluster.local on 10.43.0.10:53: no such host",
      "ERROR 2002 (HY000): Can't connect to MySQL server on 'mariadb' (115)",
      "psql: error: could not connect to server: Connection refused",
      "all good",
    ]);
    assert.equal(errs.length, 3);
    assert.equal(errs[0]!.target, "db.other.svc.cluster.local");
    assert.equal(errs[1]!.target, "mariadb");
    const v = judgeTarget(errs[0]!, "app", [{ metadata: { name: "db", namespace: "other" }, spec: { selector: { a: "b" } } }], []);
    assert.match(v.cause ?? "", /no ready endpoints/);
    // A name outside the cluster is not judged; a Service name that fails to resolve points at DNS.
    const [outside] = findConnectionErrors(["getaddrinfo ENOTFOUND example.org"]);
    assert.equal(judgeTarget(outside!, "app", [], []).cause, undefined);
    const [dns] = findConnectionErrors(["getaddrinfo EAI_AGAIN db"]);
    const db: Service = { metadata: { name: "db", namespace: "app" }, spec: { selector: { app: "db" } } };
    const slice: EndpointSlice = { addressType: "IPv4", metadata: { name: "db-1", namespace: "app", labels: { "kubernetes.io/service-name": "db" } }, endpoints: [{ addresses: ["10.42.0.9"] }] };
    assert.match(judgeTarget(dns!, "app", [db], [slice]).cause ?? "", /cluster DNS/);
  });
});

describe("doctor: pending pods", () => {
  it("decodes the scheduler's message per reason group, saying requests are not usage", () => {
    const msg = "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.";
    const parsed = parseSchedulingMessage(msg)!;
    assert.equal(parsed.total, 3);
    assert.deepEqual(parsed.groups, [
      { count: 1, reason: "node(s) had untolerated taint {dedicated: gpu}" },
      { count: 2, reason: "Insufficient cpu" },
    ]);
    const p = pod("big", { containers: [{ name: "main", image: "busybox", resources: { requests: { cpu: "64" } } }] }, { phase: "Pending" });
    const r = diagnose(view({ pods: [p], events: [podEvent(p, "FailedScheduling", msg)] }));
    const cpu = only(r.findings, /Insufficient|unrequested cpu/);
    assert.match(cpu.cause, /2 of 3/);
    assert.match(cpu.cause, /64000m/);
    assert.match(cpu.cause, /not look at live usage/);
    const taint = only(r.findings, /taint/);
    assert.match(taint.cause, /dedicated: gpu/);
    assert.match(taint.fix, /toleration/);
  });

  it("explains a claim whose StorageClass does not exist", () => {
    const p = pod("db", { volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data" } }] }, { phase: "Pending" });
    const pvc: PersistentVolumeClaim = {
      metadata: { name: "data", namespace: "app", uid: "c1" },
      spec: { storageClassName: "fast-ssd", accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
      status: { phase: "Pending" },
    };
    const sc: StorageClass = { metadata: { name: "local-path" }, provisioner: "rancher.io/local-path", volumeBindingMode: "WaitForFirstConsumer" };
    const r = diagnose(
      view({
        pods: [p],
        pvcs: [pvc],
        storageClasses: [sc],
        events: [podEvent(p, "FailedScheduling", "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")],
      }),
    );
    const f = only(r.findings, /StorageClass "fast-ssd" does not exist/);
    assert.equal(f.object, "PersistentVolumeClaim app/data");
    assert.match(f.fix, /local-path/);
  });

  it("says why no static PV matches", () => {
    const pvc: PersistentVolumeClaim = {
      metadata: { name: "data", namespace: "app" },
      spec: { storageClassName: "", accessModes: ["ReadWriteMany"], resources: { requests: { storage: "5Gi" } } },
      status: { phase: "Pending" },
    };
    const small: PersistentVolume = { metadata: { name: "pv-small" }, spec: { storageClassName: "", capacity: { storage: "1Gi" }, accessModes: ["ReadWriteMany"] }, status: { phase: "Available" } };
    const rwo: PersistentVolume = { metadata: { name: "pv-rwo" }, spec: { storageClassName: "", capacity: { storage: "10Gi" }, accessModes: ["ReadWriteOnce"] }, status: { phase: "Available" } };
    const f = diagnoseClaim(pvc, [], [small, rwo], [])!;
    assert.match(f.cause, /pv-small holds 1Gi, less than the 5Gi/);
    assert.match(f.cause, /pv-rwo does not offer ReadWriteMany/);
    assert.match(f.fix, /PersistentVolume/);
  });

  it("treats WaitForFirstConsumer as waiting, not broken", () => {
    const pvc: PersistentVolumeClaim = { metadata: { name: "data", namespace: "app" }, spec: { storageClassName: "local-path" }, status: { phase: "Pending" } };
    const sc: StorageClass = { metadata: { name: "local-path" }, provisioner: "rancher.io/local-path", volumeBindingMode: "WaitForFirstConsumer" };
    assert.equal(diagnoseClaim(pvc, [sc], [], [])!.severity, "info");
  });

  it("reports quota exceeded from the owner's FailedCreate events", () => {
    const ev: Event = {
      metadata: { name: "rs.1", namespace: "app" },
      involvedObject: { kind: "ReplicaSet", name: "web-6d4f", namespace: "app" },
      reason: "FailedCreate",
      type: "Warning",
      message: 'Error creating: pods "web-6d4f-x" is forbidden: exceeded quota: compute, requested: cpu=2, used: cpu=1, limited: cpu=2',
      lastTimestamp: ago(30),
    };
    const fs = diagnoseQuota([ev], [{ metadata: { name: "compute", namespace: "app" }, status: { hard: { cpu: "2" }, used: { cpu: "1" } } }], undefined, NOW);
    assert.equal(fs.length, 1);
    assert.equal(fs[0]!.object, "ReplicaSet app/web-6d4f");
    assert.match(fs[0]!.cause, /ResourceQuota "compute"/);
    assert.match(fs[0]!.fix, /quota/);
    assert.ok(fs[0]!.evidence.some((e) => e.includes("cpu 1/2")));
    assert.equal(diagnoseQuota([{ ...ev, lastTimestamp: ago(3600) }], [], undefined, NOW).length, 0);
  });
});

describe("doctor: creating and terminating", () => {
  it("names the missing Secret behind FailedMount", () => {
    const p = pod("web", { nodeName: "n1" }, { phase: "Pending", containerStatuses: [waiting("ContainerCreating")] });
    const ev = podEvent(p, "FailedMount", 'MountVolume.SetUp failed for volume "creds" : secret "db-creds" not found');
    const f = only(diagnose(view({ pods: [p], events: [ev] })).findings, /cannot mount/);
    assert.match(f.cause, /Secret "db-creds"/);
    assert.match(f.fix, /kubectl create secret/);
  });

  it("names the missing ConfigMap behind CreateContainerConfigError", () => {
    const p = pod("web", { nodeName: "n1" }, { phase: "Pending", containerStatuses: [waiting("CreateContainerConfigError", 'configmap "settings" not found')] });
    const f = only(diagnose(view({ pods: [p] })).findings, /ConfigMap "settings"/);
    assert.match(f.fix, /create configmap/);
  });

  it("lists the finalizers that keep a pod Terminating", () => {
    const p = pod("old", { nodeName: "n1" }, { phase: "Running" });
    p.metadata = { ...p.metadata, deletionTimestamp: ago(600), finalizers: ["example.com/cleanup"] };
    const f = only(diagnose(view({ pods: [p] })).findings, /Terminating/);
    assert.match(f.cause, /example\.com\/cleanup/);
    assert.match(f.fix, /finalizer/);
  });

  it("explains a namespace stuck Terminating", () => {
    const ns: Namespace = {
      metadata: { name: "gone", deletionTimestamp: ago(900) },
      spec: { finalizers: ["kubernetes"] },
      status: { phase: "Terminating", conditions: [{ type: "NamespaceFinalizersRemaining", status: "True", message: "Some content in the namespace has finalizers remaining: example.com/x in 1 resource instances" }] },
    };
    const f = diagnoseTerminatingNamespace(ns, NOW)!;
    assert.match(f.cause, /example\.com\/x/);
    assert.ok(f.fix.length > 0);
    assert.equal(diagnoseTerminatingNamespace({ metadata: { name: "x", deletionTimestamp: ago(5) } }, NOW), undefined);
  });
});

describe("doctor: cluster health", () => {
  it("reports NotReady nodes since when, and pressure", () => {
    const down: Node = { metadata: { name: "n2" }, status: { conditions: [{ type: "Ready", status: "Unknown", reason: "NodeStatusUnknown", message: "Kubelet stopped posting node status.", lastTransitionTime: ago(7200) }] } };
    const full: Node = { metadata: { name: "n3" }, status: { conditions: [{ type: "Ready", status: "True" }, { type: "DiskPressure", status: "True", reason: "KubeletHasDiskPressure" }] } };
    const fs = diagnoseNodes([readyNode("n1"), down, full], NOW);
    const nr = only(fs, /NotReady/);
    assert.match(nr.cause, /2h0m/);
    assert.match(nr.cause, /stopped posting status/);
    only(fs, /low on disk space/);
    assert.equal(diagnoseNodes([], NOW)[0]!.severity, "error");
  });

  it("checks that DNS has ready endpoints", () => {
    assert.deepEqual(diagnoseDns([DNS_SVC], [DNS_SLICE]), []);
    const f = diagnoseDns([DNS_SVC], [])[0]!;
    assert.equal(f.severity, "error");
    assert.match(f.cause, /not answering/);
    assert.equal(diagnoseDns([], [])[0]!.severity, "warning");
  });

  it("warns when no snapshot is newer than a day", () => {
    const old = diagnoseStore({ dataDir: "/d", dbPath: "/d/db/state.db", dbBytes: 3 << 20, snapshotDir: "/d/db/snapshots", snapshots: [{ name: "s1", mtime: new Date(NOW.getTime() - 3 * 86400_000), bytes: 10 }] }, NOW);
    assert.equal(old[0]!.severity, "warning");
    assert.match(old[0]!.cause, /very important to take frequent backup/);
    assert.match(old[0]!.fix, /skiff snapshot save/);
    const none = diagnoseStore({ dataDir: "/d", snapshotDir: "/d/db/snapshots", snapshots: [] }, NOW);
    assert.match(none[0]!.cause, /never been snapshotted/);
    const fresh = diagnoseStore({ dataDir: "/d", dbPath: "/d/db/state.db", dbBytes: 1, snapshotDir: "/d/db/snapshots", snapshots: [{ name: "s2", mtime: new Date(NOW.getTime() - 3600_000), bytes: 10 }] }, NOW);
    assert.equal(fresh[0]!.severity, "info");
  });

  it("is healthy with Running Ready pods, and prints the report", () => {
    const p = pod("ok", { nodeName: "n1" }, { phase: "Running", conditions: [{ type: "Ready", status: "True" }] });
    const r = diagnose(view({ pods: [p] }));
    assert.deepEqual(r, { healthy: true, findings: [] });
    assert.match(formatReport(r), /No problems found/);
    const bad = diagnose(view({ pods: [pod("x", {}, { phase: "Pending" })] }));
    assert.equal(bad.healthy, false);
    assert.match(formatReport(bad), /Cause: .*\n {2}Fix: /);
  });
});
