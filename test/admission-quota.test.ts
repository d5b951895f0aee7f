/**
 * ResourceQuota and LimitRanger end to end with a real server, its
 * controller manager and kubectl: the resource-quota controller confirming
 * status.hard and keeping status.used current (charges at create,
 * replenishment at delete), upstream's 403 messages through kubectl,
 * concurrent creates never exceeding a quota, and LimitRange defaults.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";
import { RawClient } from "./support/https-client.js";

let srv: TestServer;
let api: RawClient;
const NS = "quota-e2e";

before(async () => {
  srv = await startTestServer();
  api = RawClient.fromKubeconfig(srv.kubeconfig, srv.port);
  ok(srv.kubectl(["create", "namespace", NS]), "create namespace");
});
after(async () => {
  await srv?.stop();
});

interface QuotaStatus {
  hard?: Record<string, string>;
  used?: Record<string, string>;
}

function quotaStatus(name: string): QuotaStatus {
  return (JSON.parse(ok(srv.kubectl(["get", "resourcequota", name, "-n", NS, "-o", "json"]), "get quota")) as { status?: QuotaStatus }).status ?? {};
}

/** Polls until `check` passes (the controller works asynchronously); fails with the last observation. */
async function eventually<T>(what: string, read: () => T, check: (v: T) => boolean, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T = read();
  while (!check(last)) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 200));
    last = read();
  }
  return last;
}

const podYaml = (name: string, cpu: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${NS}}
spec:
  containers:
  - name: app
    image: busybox
    resources: {requests: {cpu: ${cpu}}, limits: {cpu: ${cpu}}}
`;

describe("ResourceQuota and LimitRanger", () => {
  it("the controller confirms hard limits and counts usage; admission refuses past them with upstream's message", async () => {
    ok(
      srv.kubectl(["apply", "-f", "-"], {
        input: `apiVersion: v1
kind: ResourceQuota
metadata: {name: compute, namespace: ${NS}}
spec:
  hard: {pods: "2", requests.cpu: "1", limits.cpu: "1"}
`,
      }),
      "create quota",
    );
    await eventually("status of the new quota", () => quotaStatus("compute"), (s) => s.hard?.pods === "2" && s.used?.pods === "0");
    ok(srv.kubectl(["apply", "-f", "-"], { input: podYaml("p1", "400m") }), "create p1");
    ok(srv.kubectl(["apply", "-f", "-"], { input: podYaml("p2", "400m") }), "create p2");
    assert.deepEqual(quotaStatus("compute").used, { "limits.cpu": "800m", pods: "2", "requests.cpu": "800m" });
    const third = srv.kubectl(["apply", "-f", "-"], { input: podYaml("p3", "100m") });
    assert.notEqual(third.status, 0);
    assert.match(
      third.stderr,
      /Error from server \(Forbidden\): error when creating "STDIN": pods "p3" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2/,
    );
    const noCpu = srv.kubectl(["run", "nocpu", "-n", NS, "--image=busybox", "--restart=Never"]);
    assert.notEqual(noCpu.status, 0);
    assert.match(noCpu.stderr, /pods "nocpu" is forbidden: failed quota: compute: must specify limits.cpu for: nocpu; requests.cpu for: nocpu/);

    // Replenishment: the controller sees the delete and gives the usage back.
    ok(srv.kubectl(["delete", "pod", "p1", "-n", NS, "--wait=false"]), "delete p1");
    await eventually("usage after the delete", () => quotaStatus("compute").used, (u) => u?.pods === "1" && u?.["requests.cpu"] === "400m");
    ok(srv.kubectl(["apply", "-f", "-"], { input: podYaml("p3", "600m") }), "create p3 within the freed room");
    const described = ok(srv.kubectl(["describe", "quota", "compute", "-n", NS]), "describe quota");
    assert.match(described, /requests\.cpu\s+1\s+1/);
  });

  it("concurrent creates never exceed a count quota", async () => {
    ok(
      srv.kubectl(["apply", "-f", "-"], {
        input: `apiVersion: v1
kind: ResourceQuota
metadata: {name: services, namespace: ${NS}}
spec:
  hard: {count/services: "3", count/deployments.apps: "5"}
`,
      }),
      "create services quota",
    );
    // count/deployments.apps has no informer behind it: the controller lists it through the API.
    await eventually("services quota status", () => quotaStatus("services"), (s) => s.used?.["count/services"] === "0" && s.used?.["count/deployments.apps"] === "0");
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        api.post(`/api/v1/namespaces/${NS}/services`, { apiVersion: "v1", kind: "Service", metadata: { name: `svc-${i}` }, spec: { ports: [{ port: 80 }] } }),
      ),
    );
    const codes = results.map((r) => r.code).sort();
    assert.deepEqual(codes, [201, 201, 201, 403, 403, 403, 403, 403, 403, 403]);
    for (const r of results.filter((x) => x.code === 403)) {
      assert.equal(r.json?.reason, "Forbidden");
      assert.match(r.json?.message ?? "", /exceeded quota: services, requested: count\/services=1, used: count\/services=3, limited: count\/services=3/);
    }
    assert.equal(quotaStatus("services").used?.["count/services"], "3");
  });

  it("LimitRange defaults go into pods, and its max is enforced", async () => {
    ok(srv.kubectl(["create", "namespace", `${NS}-lr`]), "create namespace");
    ok(
      srv.kubectl(["apply", "-f", "-"], {
        input: `apiVersion: v1
kind: LimitRange
metadata: {name: limits, namespace: ${NS}-lr}
spec:
  limits:
  - type: Container
    default: {cpu: 300m, memory: 64Mi}
    defaultRequest: {cpu: 100m}
    max: {cpu: "1"}
`,
      }),
      "create limit range",
    );
    ok(srv.kubectl(["run", "defaulted", "-n", `${NS}-lr`, "--image=busybox", "--restart=Never"]), "create pod");
    const pod = JSON.parse(ok(srv.kubectl(["get", "pod", "defaulted", "-n", `${NS}-lr`, "-o", "json"]), "get pod")) as {
      metadata: { annotations?: Record<string, string> };
      spec: { containers: { resources: unknown }[] };
    };
    assert.deepEqual(pod.spec.containers[0]!.resources, { limits: { cpu: "300m", memory: "64Mi" }, requests: { cpu: "100m", memory: "64Mi" } });
    assert.equal(pod.metadata.annotations?.["kubernetes.io/limit-ranger"], "LimitRanger plugin set: cpu, memory request for container defaulted; cpu, memory limit for container defaulted");
    const big = srv.kubectl(["run", "big", "-n", `${NS}-lr`, "--image=busybox", "--restart=Never", "--overrides", '{"spec":{"containers":[{"name":"big","image":"busybox","resources":{"limits":{"cpu":"2"}}}]}}']);
    assert.notEqual(big.status, 0);
    assert.match(big.stderr, /pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2/);
  });
});
