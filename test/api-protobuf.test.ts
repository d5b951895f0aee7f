/**
 * Protobuf request bodies against a real server: kubectl 1.32+ sends every
 * typed write as `application/vnd.kubernetes.protobuf`. Each create command
 * must store exactly the object the same command stores when kubectl 1.31
 * sends it as JSON; malformed or unknown bodies get upstream-shaped errors.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import protobuf from "protobufjs";
import { kubectlVersions, ok, startTestServer, type TestServer } from "./support/cluster.js";
import { RawClient } from "./support/https-client.js";

const BASELINE = "1.31";
const PROTOBUF_VERSIONS = ["1.32", "1.33"];
const PB = "application/vnd.kubernetes.protobuf";

let srv: TestServer;
let api: RawClient;
const installed = kubectlVersions();
const skip = installed.includes(BASELINE) ? false : `kubectl ${BASELINE} is not installed`;

before(async () => {
  srv = await startTestServer();
  api = RawClient.fromKubeconfig(srv.kubeconfig, srv.port);
});
after(async () => {
  await srv?.stop();
});

/** The commands of one kubectl version, in its own namespace `pb-v1NN` (cluster-scoped names carry the suffix too). */
function commands(ns: string, sfx: string): string[][] {
  return [
    ["create", "namespace", ns],
    ["create", "deployment", "d1", "--image=busybox", "--replicas=0", "-n", ns],
    ["create", "deployment", "d2", "--image=busybox", "--port=8080", "-n", ns],
    ["create", "configmap", "c1", "--from-literal=a=b", "--from-literal=empty=", "-n", ns],
    ["create", "secret", "generic", "s1", "--from-literal=a=b", "-n", ns],
    ["create", "serviceaccount", "sa1", "-n", ns],
    ["create", "role", "r1", "--verb=get", "--resource=pods", "-n", ns],
    ["create", "rolebinding", "rb1", "--role=r1", "--user=bob", "-n", ns],
    ["create", "clusterrolebinding", `crb-v${sfx}`, "--clusterrole=view", "--user=bob"],
    ["create", "service", "clusterip", "svc1", "--tcp=80:8080", "-n", ns],
    ["create", "service", "nodeport", "svc3", "--tcp=81:81", "-n", ns],
    ["create", "job", "j1", "--image=busybox", "-n", ns, "--", "true"],
    ["create", "cronjob", "cj1", "--image=busybox", "--schedule=*/1 * * * *", "-n", ns],
    ["create", "quota", "q1", "--hard=pods=10,requests.storage=1500Mi,count/configmaps=20", "-n", ns],
    ["create", "pdb", "pdb1", "--selector=a=b", "--min-available=1", "-n", ns],
    ["create", "pdb", "pdb2", "--selector=a=b", "--max-unavailable=50%", "-n", ns],
    ["create", "priorityclass", `pc-v${sfx}`, "--value=10", "--description=x"],
    ["create", "ingress", "ing1", "--rule=foo.com/bar=svc1:80", "-n", ns],
    ["autoscale", "deployment", "d2", "--max=3", "--cpu-percent=50", "-n", ns],
    ["expose", "deployment", "d2", "--port=80", "--name=svc2", "-n", ns],
    ["run", "p1", "--image=busybox", "--labels=a=b", "--env=X=1", "--port=80", "-n", ns],
  ];
}

/** What to compare: [resource, name, namespaced]. */
function objects(sfx: string): [string, string, boolean][] {
  return [
    ["namespace", `pb-v${sfx}`, false],
    ["deployment", "d1", true],
    ["deployment", "d2", true],
    ["configmap", "c1", true],
    ["secret", "s1", true],
    ["serviceaccount", "sa1", true],
    ["role", "r1", true],
    ["rolebinding", "rb1", true],
    ["clusterrolebinding", `crb-v${sfx}`, false],
    ["service", "svc1", true],
    ["service", "svc2", true],
    ["service", "svc3", true],
    ["job", "j1", true],
    ["cronjob", "cj1", true],
    ["resourcequota", "q1", true],
    ["poddisruptionbudget", "pdb1", true],
    ["poddisruptionbudget", "pdb2", true],
    ["priorityclass", `pc-v${sfx}`, false],
    ["ingress", "ing1", true],
    ["horizontalpodautoscaler", "d2", true],
    ["pod", "p1", true],
  ];
}

/** The stored object minus what differs between any two creations (ids, times, controller-owned state, allocations). */
type Stored = {
  kind: string;
  status?: unknown;
  metadata: Record<string, unknown> & { uid: string; annotations?: Record<string, string>; managedFields?: { manager: string; time?: string }[] };
  spec: { clusterIP?: string; clusterIPs?: string[]; ports?: { nodePort?: number }[] };
};

function normalize(obj: Record<string, unknown>, sfx: string): unknown {
  const o = structuredClone(obj) as Stored;
  const uid = o.metadata.uid;
  delete o.status;
  for (const k of ["uid", "resourceVersion", "creationTimestamp"]) delete o.metadata[k];
  for (const mf of o.metadata.managedFields ?? []) delete mf.time;
  // Controllers update these after the create, at their own pace.
  o.metadata.managedFields = (o.metadata.managedFields ?? []).filter((mf) => mf.manager.startsWith("kubectl"));
  delete o.metadata.annotations?.["deployment.kubernetes.io/revision"];
  if (o.metadata.annotations && Object.keys(o.metadata.annotations).length === 0) delete o.metadata.annotations;
  // kubectl 1.33 `autoscale` writes autoscaling/v2 where older ones wrote v1 (a client change, not an encoding
  // one): the field-manager entries name different versions, the stored spec must still match.
  if (o.kind === "HorizontalPodAutoscaler") delete o.metadata.managedFields;
  if (o.kind === "Service") {
    delete o.spec.clusterIP;
    delete o.spec.clusterIPs;
    for (const p of o.spec.ports ?? []) delete p.nodePort;
  }
  return JSON.parse(
    JSON.stringify(o)
      .replaceAll(uid, "UID")
      .replaceAll(`v${sfx}`, "vX")
      .replace(/kube-api-access-[a-z0-9]{5}/g, "kube-api-access-X"),
  );
}

function runAll(version: string): Map<string, unknown> {
  const sfx = version.replace(".", "");
  const ns = `pb-v${sfx}`;
  for (const c of commands(ns, sfx)) {
    const r = srv.kubectl(c, { version });
    assert.equal(r.status, 0, `kubectl ${version} ${c.join(" ")}: ${r.stderr}`);
  }
  const out = new Map<string, unknown>();
  for (const [res, name, namespaced] of objects(sfx)) {
    const args = ["get", res, name, "-o", "json", "--show-managed-fields", ...(namespaced ? ["-n", ns] : [])];
    out.set(`${res}/${name.replace(`v${sfx}`, "vX")}`, normalize(JSON.parse(ok(srv.kubectl(args), args.join(" "))), sfx));
  }
  return out;
}

/** A `k8s\0` envelope (runtime.Unknown) around raw message bytes. */
function envelope(apiVersion: string, kind: string, raw: Uint8Array): Buffer {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 2).fork().uint32((1 << 3) | 2).string(apiVersion).uint32((2 << 3) | 2).string(kind).ldelim();
  w.uint32((2 << 3) | 2).bytes(raw);
  return Buffer.concat([Buffer.from("k8s\0", "binary"), w.finish()]);
}

/** A Namespace message {metadata = 1 {name = 1}}. */
function namespaceMessage(name: string): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 2).fork().uint32((1 << 3) | 2).string(name).ldelim();
  return w.finish();
}

describe("protobuf request bodies", { skip }, () => {
  it("stores what kubectl 1.32/1.33 create exactly as kubectl 1.31 (JSON) stores it", () => {
    const baseline = runAll(BASELINE);
    for (const v of PROTOBUF_VERSIONS) {
      if (!installed.includes(v)) continue;
      const got = runAll(v);
      for (const [key, want] of baseline) assert.deepEqual(got.get(key), want, `kubectl ${v}: ${key}`);
    }
  });

  it("issues tokens, answers access reviews and deletes with kubectl 1.32/1.33", () => {
    for (const v of [BASELINE, ...PROTOBUF_VERSIONS]) {
      if (!installed.includes(v)) continue;
      const ns = `pb-v${v.replace(".", "")}`;
      const token = ok(srv.kubectl(["create", "token", "sa1", "-n", ns, "--duration=20m", "--audience=a1"], { version: v }), `${v} create token`).trim();
      const claims = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { aud: string[]; exp: number; iat: number; sub: string };
      assert.deepEqual(claims.aud, ["a1"]);
      assert.equal(claims.exp - claims.iat, 1200);
      assert.equal(claims.sub, `system:serviceaccount:${ns}:sa1`);
      assert.equal(ok(srv.kubectl(["auth", "can-i", "get", "pods", "-n", ns], { version: v }), `${v} auth can-i`).trim(), "yes");
      ok(srv.kubectl(["delete", "configmap", "c1", "-n", ns, "--grace-period=0"], { version: v }), `${v} delete`);
      assert.notEqual(srv.kubectl(["get", "configmap", "c1", "-n", ns]).status, 0);
    }
  });

  it("answers malformed protobuf with 400 and an unknown kind with 400, never 500", async () => {
    const good = await api.request({ method: "POST", path: "/api/v1/namespaces", body: envelope("v1", "Namespace", namespaceMessage("pb-raw")), contentType: PB });
    assert.equal(good.code, 201, good.text);
    assert.equal(good.json?.metadata?.name, "pb-raw");

    for (const body of [Buffer.from("k8s\0\x0a\xff", "binary"), Buffer.from("not protobuf"), envelope("v1", "Namespace", Buffer.from([0x0a, 0x05, 0x0a]))]) {
      const r = await api.request({ method: "POST", path: "/api/v1/namespaces", body, contentType: PB });
      assert.equal(r.code, 400, r.text);
      assert.equal(r.json?.reason, "BadRequest");
      assert.match(String(r.json?.message), /could not be decoded as protobuf/);
    }
    const unknown = await api.request({ method: "POST", path: "/api/v1/namespaces", body: envelope("v1", "NoSuchKind", namespaceMessage("x")), contentType: PB });
    assert.equal(unknown.code, 400, unknown.text);
    assert.match(String(unknown.json?.message), /no kind "NoSuchKind" is registered for version "v1"/);
    // A kind other than the endpoint's: the same answer a JSON body with that kind gets.
    const other = await api.request({ method: "POST", path: "/api/v1/namespaces", body: envelope("v1", "ConfigMap", namespaceMessage("x")), contentType: PB });
    const otherJson = await api.request({ method: "POST", path: "/api/v1/namespaces", body: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" } }) });
    assert.equal(other.code, otherJson.code, other.text);
    assert.equal(other.json?.message, otherJson.json?.message);
    assert.ok(other.code >= 400 && other.code < 500, other.text);
    const plain = await api.request({ method: "POST", path: "/api/v1/namespaces", body: "x", contentType: "text/plain" });
    assert.equal(plain.code, 415, plain.text);
    assert.match(String(plain.json?.message), /accepted media types include: application\/json, application\/yaml, application\/vnd\.kubernetes\.protobuf$/);
  });

  it("takes DeleteOptions as protobuf on DELETE", async () => {
    ok(srv.kubectl(["create", "configmap", "pb-del", "-n", "default"]), "create cm");
    const path = "/api/v1/namespaces/default/configmaps/pb-del";
    // DeleteOptions {dryRun = 5: ["All"]}: nothing is deleted.
    const dry = protobuf.Writer.create().uint32((5 << 3) | 2).string("All").finish();
    const r1 = await api.request({ method: "DELETE", path, body: envelope("meta.k8s.io/v1", "DeleteOptions", dry), contentType: PB });
    assert.equal(r1.code, 200, r1.text);
    assert.equal(srv.kubectl(["get", "configmap", "pb-del", "-n", "default"]).status, 0);
    // {propagationPolicy = 4: "Nope"}: refused as a JSON body would be.
    const badPolicy = protobuf.Writer.create().uint32((4 << 3) | 2).string("Nope").finish();
    const r2 = await api.request({ method: "DELETE", path, body: envelope("v1", "DeleteOptions", badPolicy), contentType: PB });
    assert.equal(r2.code, 400, r2.text);
    assert.match(String(r2.json?.message), /propagationPolicy: Unsupported value: "Nope"/);
    const r3 = await api.request({ method: "DELETE", path, body: envelope("meta.k8s.io/v1", "DeleteOptions", new Uint8Array()), contentType: PB });
    assert.equal(r3.code, 200, r3.text);
    assert.notEqual(srv.kubectl(["get", "configmap", "pb-del", "-n", "default"]).status, 0);
  });

  it("keeps refusing protobuf for custom resources (415), as upstream", async () => {
    const crd = {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "widgets.pb.example.com" },
      spec: {
        group: "pb.example.com",
        names: { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList" },
        scope: "Namespaced",
        versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }],
      },
    };
    ok(srv.kubectl(["apply", "-f", "-"], { input: JSON.stringify(crd) }), "create crd");
    ok(srv.kubectl(["wait", "--for=condition=Established", "crd/widgets.pb.example.com", "--timeout=60s"]), "crd established");
    const r = await api.request({
      method: "POST",
      path: "/apis/pb.example.com/v1/namespaces/default/widgets",
      body: envelope("pb.example.com/v1", "Widget", namespaceMessage("w1")),
      contentType: PB,
    });
    assert.equal(r.code, 415, r.text);
    assert.equal(r.json?.reason, "UnsupportedMediaType");
    assert.match(String(r.json?.message), /accepted media types include: application\/json, application\/yaml$/);
  });
});
