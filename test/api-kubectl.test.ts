/**
 * The API server through real kubectl, as a new user would use it: versions,
 * namespaces, create/get/label/annotate/patch/scale/delete, watch, discovery,
 * health, and upstream-shaped errors for bad input.
 */
import assert from "node:assert/strict";
import { request } from "node:https";
import { after, before, describe, it } from "node:test";
import { kubectlVersions, startTestServer, type TestServer, ok } from "./support/cluster.js";

let srv: TestServer;
before(async () => {
  srv = await startTestServer();
});
after(async () => {
  await srv?.stop();
});


/** A raw HTTPS request to the server with no client certificate. */
function anonymous(path: string): Promise<{ code: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: srv.port, path, rejectUnauthorized: false }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ code: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("kubectl against skiff", () => {
  it("reports a real Kubernetes version and serves health without credentials", async () => {
    const v = JSON.parse(ok(srv.kubectl(["version", "-o", "json"]), "kubectl version"));
    assert.match(v.serverVersion.gitVersion, /^v1\.\d+\.\d+\+skiff$/);
    const health = await anonymous("/readyz?verbose");
    assert.equal(health.code, 200);
    assert.match(health.body, /\[\+\]etcd ok/);
    assert.match(health.body, /readyz check passed/);
    const denied = await anonymous("/api/v1/namespaces");
    assert.equal(denied.code, 401);
    assert.equal(JSON.parse(denied.body).reason, "Unauthorized");
    assert.match(ok(srv.kubectl(["get", "--raw", "/livez?verbose"]), "raw livez"), /livez check passed/);
  });

  it("has the system namespaces and creates one", () => {
    const names = ok(srv.kubectl(["get", "ns", "-o", "jsonpath={.items[*].metadata.name}"]), "get ns").split(" ");
    for (const n of ["default", "kube-system", "kube-public", "kube-node-lease"]) assert.ok(names.includes(n), n);
    assert.match(ok(srv.kubectl(["create", "namespace", "expense"]), "create ns"), /namespace\/expense created/);
    const again = srv.kubectl(["create", "namespace", "expense"]);
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /namespaces "expense" already exists/);
    const phase = ok(srv.kubectl(["get", "ns", "expense", "-o", "jsonpath={.status.phase} {.metadata.labels.kubernetes\\.io/metadata\\.name}"]), "phase");
    assert.equal(phase, "Active expense");
  });

  it("creates, reads, labels, annotates, patches and deletes objects", () => {
    ok(srv.kubectl(["-n", "expense", "create", "configmap", "settings", "--from-literal=DB_HOST=mysql"]), "create cm");
    const cm = JSON.parse(ok(srv.kubectl(["-n", "expense", "get", "cm", "settings", "-o", "json"]), "get -o json"));
    assert.equal(cm.data.DB_HOST, "mysql");
    assert.match(cm.metadata.uid, /^[0-9a-f-]{36}$/);
    assert.match(cm.metadata.resourceVersion, /^\d+$/);
    assert.match(ok(srv.kubectl(["-n", "expense", "get", "cm", "settings", "-o", "yaml"]), "-o yaml"), /DB_HOST: mysql/);
    ok(srv.kubectl(["-n", "expense", "label", "cm", "settings", "tier=backend"]), "label");
    ok(srv.kubectl(["-n", "expense", "annotate", "cm", "settings", "owner=team-a"]), "annotate");
    ok(srv.kubectl(["-n", "expense", "patch", "cm", "settings", "--type=merge", "-p", '{"data":{"PORT":"8080"}}']), "merge patch");
    ok(srv.kubectl(["-n", "expense", "patch", "cm", "settings", "--type=json", "-p", '[{"op":"remove","path":"/data/DB_HOST"}]']), "json patch");
    const after = JSON.parse(ok(srv.kubectl(["-n", "expense", "get", "cm", "-l", "tier=backend", "-o", "json"]), "get -l"));
    assert.equal(after.items.length, 1);
    assert.deepEqual(after.items[0].data, { PORT: "8080" });
    assert.equal(after.items[0].metadata.annotations.owner, "team-a");
    // Nothing else matches but the ConfigMap the root CA publisher puts in every namespace (once it has run).
    const others = ok(srv.kubectl(["-n", "expense", "get", "cm", "-l", "tier!=backend", "-o", "name"]), "selector").split("\n");
    assert.deepEqual(others.filter((l) => l !== "" && l !== "configmap/kube-root-ca.crt"), []);
    assert.match(ok(srv.kubectl(["-n", "expense", "delete", "cm", "settings"]), "delete"), /configmap "settings" deleted/);
    const gone = srv.kubectl(["-n", "expense", "get", "cm", "settings"]);
    assert.notEqual(gone.status, 0);
    assert.match(gone.stderr, /configmaps "settings" not found/);
  });

  it("scales a deployment through the scale subresource and counts generations", () => {
    const manifest = JSON.stringify({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "backend", namespace: "expense" },
      spec: {
        selector: { matchLabels: { app: "backend" } },
        template: { metadata: { labels: { app: "backend" } }, spec: { containers: [{ name: "backend", image: "expense-backend:1.0" }] } },
      },
    });
    ok(srv.kubectl(["create", "-f", "-"], { input: manifest }), "create deployment");
    const d = JSON.parse(ok(srv.kubectl(["-n", "expense", "get", "deploy", "backend", "-o", "json"]), "get deploy"));
    assert.equal(d.spec.replicas, 1, "defaulted replicas");
    assert.equal(d.spec.strategy.rollingUpdate.maxSurge, "25%");
    assert.equal(d.spec.template.spec.containers[0].imagePullPolicy, "IfNotPresent");
    assert.equal(d.metadata.generation, 1);
    ok(srv.kubectl(["-n", "expense", "scale", "deploy", "backend", "--replicas=3"]), "scale");
    const s = ok(srv.kubectl(["-n", "expense", "get", "deploy", "backend", "-o", "jsonpath={.spec.replicas} {.metadata.generation}"]), "after scale");
    assert.equal(s, "3 2");
    const scale = JSON.parse(ok(srv.kubectl(["get", "--raw", "/apis/apps/v1/namespaces/expense/deployments/backend/scale"]), "raw scale"));
    assert.equal(scale.kind, "Scale");
    assert.equal(scale.spec.replicas, 3);
    assert.equal(scale.status.selector, "app=backend");
  });

  it("deletes a deployment with orphan propagation: its ReplicaSet stays, released", () => {
    ok(srv.kubectl(["-n", "expense", "create", "deployment", "orphaner", "--image=orphaner:1"]), "create orphaner");
    const uid = ok(srv.kubectl(["-n", "expense", "get", "deploy", "orphaner", "-o", "jsonpath={.metadata.uid}"]), "uid");
    const rs = {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: { name: "orphaner-1", namespace: "expense", ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: "orphaner", uid, controller: true, blockOwnerDeletion: true }] },
      spec: { replicas: 0, selector: { matchLabels: { app: "orphaner" } }, template: { metadata: { labels: { app: "orphaner" } }, spec: { containers: [{ name: "c", image: "orphaner:1" }] } } },
    };
    ok(srv.kubectl(["create", "-f", "-"], { input: JSON.stringify(rs) }), "create replicaset");
    assert.match(ok(srv.kubectl(["-n", "expense", "delete", "deploy", "orphaner", "--cascade=orphan", "--timeout=60s"]), "delete orphan"), /deployment.apps "orphaner" deleted/);
    assert.equal(ok(srv.kubectl(["-n", "expense", "get", "rs", "orphaner-1", "-o", "jsonpath={.metadata.ownerReferences}"]), "orphaned rs"), "");
  });

  it("edits through KUBE_EDITOR and deletes with background propagation", () => {
    const editor = "sed -i -e 's/replicas: 3/replicas: 5/'";
    assert.match(ok(srv.kubectl(["-n", "expense", "edit", "deploy", "backend"], { env: { KUBE_EDITOR: editor } }), "edit"), /deployment.apps\/backend edited/);
    assert.equal(ok(srv.kubectl(["-n", "expense", "get", "deploy", "backend", "-o", "jsonpath={.spec.replicas}"]), "after edit"), "5");
    ok(srv.kubectl(["-n", "expense", "create", "deployment", "doomed", "--image=doomed:1"]), "create doomed");
    assert.match(ok(srv.kubectl(["-n", "expense", "delete", "deploy", "doomed", "--cascade=background"]), "delete"), /deployment.apps "doomed" deleted/);
    assert.notEqual(srv.kubectl(["-n", "expense", "get", "deploy", "doomed"]).status, 0);
  });

  it("watches changes", async () => {
    const { spawn } = await import("node:child_process");
    const w = spawn("kubectl", ["--kubeconfig", srv.kubeconfig, "-n", "expense", "get", "cm", "-w", "-o", "name"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    w.stdout.on("data", (d) => (out += d));
    await new Promise((r) => setTimeout(r, 1500));
    ok(srv.kubectl(["-n", "expense", "create", "cm", "watched", "--from-literal=a=b"]), "create watched");
    const deadline = Date.now() + 10_000;
    while (!out.includes("configmap/watched") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    w.kill();
    assert.match(out, /configmap\/watched/);
  });

  it("refuses bad input with upstream messages", () => {
    const bad = srv.kubectl(["create", "configmap", "Bad_Name"]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/);
    const noNs = srv.kubectl(["-n", "nowhere", "create", "configmap", "x"]);
    assert.notEqual(noNs.status, 0);
    assert.match(noNs.stderr, /namespaces "nowhere" not found/);
    const del = srv.kubectl(["delete", "namespace", "default"]);
    assert.notEqual(del.status, 0);
    assert.match(del.stderr, /this namespace may not be deleted/);
    const sel = srv.kubectl(["get", "pods", "--field-selector", "spec.bogus=1"]);
    assert.notEqual(sel.status, 0);
    assert.match(sel.stderr, /field label not supported: spec.bogus/);
    const noContainers = srv.kubectl(["create", "-f", "-"], {
      input: JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "default" }, spec: { containers: [] } }),
    });
    assert.notEqual(noContainers.status, 0);
    assert.match(noContainers.stderr, /Pod "p" is invalid: spec.containers: Required value/);
  });

  it("applies a multi-document manifest: created, unchanged, then removals reach the live object", () => {
    const doc = (env: string, ports: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: expense
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: expense-frontend:1.0
        env:
        - {name: BACKEND, value: "http://backend:8080"}
${env}        ports:
        - containerPort: 80
${ports}---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: expense
data:
  greeting: hello
`;
    const full = doc('        - {name: DEBUG, value: "1"}\n', "        - containerPort: 9090\n");
    const first = ok(srv.kubectl(["apply", "-f", "-"], { input: full }), "first apply");
    assert.match(first, /deployment.apps\/web created/);
    assert.match(first, /configmap\/web-config created/);
    const second = ok(srv.kubectl(["apply", "-f", "-"], { input: full }), "second apply");
    assert.match(second, /deployment.apps\/web unchanged/);
    assert.match(second, /configmap\/web-config unchanged/);
    const third = ok(srv.kubectl(["apply", "-f", "-"], { input: doc("", "") }), "apply with removals");
    assert.match(third, /deployment.apps\/web configured/);
    const c = JSON.parse(ok(srv.kubectl(["-n", "expense", "get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0]}"]), "get container"));
    assert.deepEqual(c.env, [{ name: "BACKEND", value: "http://backend:8080" }]);
    assert.deepEqual(c.ports, [{ containerPort: 80, protocol: "TCP" }]);
    const typo = srv.kubectl(["apply", "-f", "-"], { input: full.replace("replicas: 2", "replicas: 2\n  replica: 3") });
    assert.notEqual(typo.status, 0);
    assert.match(typo.stderr, /strict decoding error: unknown field "spec.replica"/);
    const warned = srv.kubectl(["apply", "--validate=warn", "-f", "-"], { input: full.replace("replicas: 2", "replicas: 2\n  replica: 3") });
    assert.equal(warned.status, 0, warned.stderr);
    assert.match(warned.stderr, /Warning: unknown field "spec.replica"/);
    const stored = JSON.parse(ok(srv.kubectl(["-n", "expense", "get", "deploy", "web", "-o", "json"]), "get after warn"));
    assert.equal(stored.spec.replica, undefined, "an unknown field is not stored, as upstream");
  });

  it("server-side applies with managed fields, conflicts and --force-conflicts, and diffs", () => {
    const manifest = (replicas: number) =>
      JSON.stringify({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "ssa", namespace: "expense" },
        spec: {
          replicas,
          selector: { matchLabels: { app: "ssa" } },
          template: { metadata: { labels: { app: "ssa" } }, spec: { containers: [{ name: "c", image: "ssa:1", ports: [{ containerPort: 80 }] }] } },
        },
      });
    assert.match(ok(srv.kubectl(["apply", "--server-side", "-f", "-"], { input: manifest(2) }), "ssa create"), /deployment.apps\/ssa serverside-applied/);
    const mf = JSON.parse(ok(srv.kubectl(["-n", "expense", "get", "deploy", "ssa", "-o", "json", "--show-managed-fields"]), "managed fields")).metadata.managedFields;
    const mine = mf.find((e: { manager: string }) => e.manager === "kubectl");
    assert.equal(mine.operation, "Apply");
    assert.ok(mine.fieldsV1["f:spec"]["f:replicas"], "the applier owns spec.replicas");
    ok(srv.kubectl(["-n", "expense", "scale", "deploy", "ssa", "--replicas=4"]), "scale");
    const clash = srv.kubectl(["apply", "--server-side", "-f", "-"], { input: manifest(2) });
    assert.notEqual(clash.status, 0);
    assert.match(clash.stderr, /Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps\/v1: \.spec\.replicas/);
    ok(srv.kubectl(["apply", "--server-side", "--force-conflicts", "-f", "-"], { input: manifest(2) }), "force");
    assert.equal(ok(srv.kubectl(["-n", "expense", "get", "deploy", "ssa", "-o", "jsonpath={.spec.replicas}"]), "replicas"), "2");
    const diff = srv.kubectl(["diff", "-f", "-"], { input: manifest(3) });
    assert.equal(diff.status, 1, `kubectl diff exits 1 when there are differences: ${diff.stderr}`);
    assert.match(diff.stdout, /- {2}replicas: 2\n\+ {2}replicas: 3/);
  });

  it("prints server-side tables as a real cluster does", () => {
    const ns = ok(srv.kubectl(["get", "ns", "kube-system"]), "get ns");
    assert.match(ns, /^NAME\s+STATUS\s+AGE\nkube-system\s+Active\s+(\d+[smh])+\n$/);
    const wide = ok(srv.kubectl(["-n", "expense", "get", "deploy", "web", "-o", "wide"]), "get -o wide");
    assert.match(wide, /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR\n/);
    // UP-TO-DATE counts the controller's new ReplicaSet; nothing is available with no nodes.
    assert.match(wide, /web\s+0\/2\s+\d+\s+0\s+(\d+[smh])+\s+web\s+expense-frontend:1.0\s+app=web/);
    const cms = ok(srv.kubectl(["-n", "expense", "get", "cm", "web-config"]), "get cm");
    assert.match(cms, /^NAME\s+DATA\s+AGE\nweb-config\s+1\s+/);
  });

  it("explains fields from the served OpenAPI, with no fallback", () => {
    const out = ok(srv.kubectl(["explain", "pod.spec.containers"]), "explain");
    assert.match(out, /KIND:\s+Pod/);
    assert.match(out, /FIELD: containers <\[\]Container>/);
    assert.match(out, /name\s+<string> -required-/);
    const verbose = srv.kubectl(["apply", "-v=6", "-f", "-"], {
      input: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "probe", namespace: "expense" } }),
    });
    assert.equal(verbose.status, 0, verbose.stderr);
    assert.doesNotMatch(verbose.stderr, /failed to download openapi|falling back|fallback/i);
    assert.match(verbose.stderr, /fieldValidation=Strict/);
  });

  it("lists resources for every kubectl version", () => {
    const versions = kubectlVersions();
    assert.ok(versions.length > 0, "versioned kubectl binaries exist");
    for (const version of versions) {
      const res = ok(srv.kubectl(["api-resources", "--no-headers"], { version }), `api-resources (${version})`);
      assert.match(res, /deployments\s+deploy\s+apps\/v1\s+true\s+Deployment/, version);
      const names = ok(srv.kubectl(["get", "ns", "-o", "name"], { version }), `get ns (${version})`);
      assert.match(names, /namespace\/kube-system/, version);
      const applied = ok(
        srv.kubectl(["apply", "-f", "-"], {
          version,
          input: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `v${version.replace(".", "-")}`, namespace: "expense" }, data: { a: "1" } }),
        }),
        `apply (${version})`,
      );
      assert.match(applied, /created/, version);
      // Orphan deletion completes only once the garbage collector has released the orphan finalizer.
      const cm = `v${version.replace(".", "-")}`;
      const orphaned = ok(srv.kubectl(["-n", "expense", "delete", "cm", cm, "--cascade=orphan", "--timeout=60s"], { version }), `delete orphan (${version})`);
      assert.match(orphaned, /deleted/, version);
      const explained = srv.kubectl(["explain", "deployment.spec.replicas"], { version });
      assert.equal(explained.status, 0, `explain (${version}): ${explained.stderr}`);
      assert.match(explained.stdout, /replicas/, version);
    }
  });
});
