/**
 * Issue 7 (security), node and pod rules, driven with the real kubectl:
 * - the Node authorizer and NodeRestriction admission, on an in-process API
 *   server whose chain is upstream's `Node,RBAC` (each kubelet has its own
 *   `system:node:NAME` certificate made with src/pki): a node reads only the
 *   secrets of pods bound to it, writes only its own Node, Lease and pods;
 * - PodSecurity admission on a real `skiff server`: enforce labels reject
 *   pods with upstream's message, bad labels are refused.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { findResource } from "../src/api/resources.js";
import { createNodeAuthorizer, type RunningNodeAuthorizer } from "../src/apiserver/auth/node/index.js";
import { nodeRestriction } from "../src/apiserver/admission/node-restriction.js";
import { AuthenticatorChain, x509Authenticator } from "../src/apiserver/auth/authn.js";
import { type Authorizer, AuthorizerChain, privilegedGroupAuthorizer } from "../src/apiserver/auth/authz.js";
import { bootstrapNamespaces } from "../src/apiserver/bootstrap.js";
import { ObjectStore } from "../src/apiserver/registry/object-store.js";
import { strategyFor } from "../src/apiserver/registry/strategies.js";
import { ApiServer } from "../src/apiserver/server.js";
import { buildKubeconfig, writeKubeconfig } from "../src/cli/kubeconfig-file.js";
import { silentLogger } from "../src/machinery/log.js";
import { ensureClusterPki, issueNodeClientCert } from "../src/pki/cluster-pki.js";
import { openMemoryStore } from "../src/storage/backends/memory/memory-store.js";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";

type Run = { status: number; stdout: string; stderr: string };

const DEFAULT_SA = (namespace: string) => ({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace } });

/** kubectl without blocking this process (it serves the in-process API server the call goes to). */
function kubectlWith(kubeconfig: string, args: string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn("kubectl", ["--kubeconfig", kubeconfig, ...args], { env: { ...process.env, KUBECONFIG: kubeconfig }, timeout: 60_000 });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ status: code ?? -1, stdout, stderr }));
    child.stdin.end(input ?? "");
  });
}

/** kubectl's line for a refused request: `Error from server (Forbidden): MESSAGE`. */
function assertForbidden(r: Run, message: string): void {
  assert.notEqual(r.status, 0, `expected a refusal, got: ${r.stdout}`);
  assert.equal(r.stderr.trim(), `Error from server (Forbidden): ${message}`);
}

/** Retries `fn` until it holds: the node graph follows the store by watch, a moment behind the write. */
async function eventually(what: string, fn: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`never happened: ${what}`);
}

describe("Node authorizer and NodeRestriction (kubectl, in-process Node,RBAC API server)", () => {
  let dir: string;
  let api: ApiServer | undefined;
  let nodeAuthz: RunningNodeAuthorizer | undefined;
  let store: ReturnType<typeof openMemoryStore>;
  const kc: Record<"admin" | "n1" | "n2", string> = { admin: "", n1: "", n2: "" };
  const as = (who: keyof typeof kc, args: string[], input?: string) => kubectlWith(kc[who], args, input);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "skiff-nodeauthz-"));
    const pki = await ensureClusterPki({ tlsDir: join(dir, "tls"), hostAddresses: ["127.0.0.1"], logger: silentLogger });
    store = openMemoryStore();
    const podsRes = findResource("", "v1", "pods")!;
    const pvRes = findResource("", "v1", "persistentvolumes")!;
    nodeAuthz = createNodeAuthorizer({
      pods: new ObjectStore({ store, resource: podsRes, strategy: strategyFor(podsRes) }),
      persistentVolumes: new ObjectStore({ store, resource: pvRes, strategy: strategyFor(pvRes) }),
    });
    // Upstream's --authorization-mode=Node,RBAC (system:masters first), over this server's own RBAC.
    let chain: Authorizer | undefined;
    const authorizer: Authorizer = { authorize: (u, i) => chain!.authorize(u, i) };
    const server: ApiServer = new ApiServer({
      store,
      tls: { key: pki.serving.keyPem, cert: pki.serving.certPem, clientCA: pki.clientCa.certPem },
      bindAddress: "127.0.0.1",
      port: 0,
      authenticator: new AuthenticatorChain([x509Authenticator]),
      authorizer,
      admission: [
        nodeRestriction({
          pods: { get: (ns, name) => server.objects("", "v1", "pods").get(ns, name) },
          nodes: { get: (ns, name) => server.objects("", "v1", "nodes").get(ns, name) },
        }),
      ],
      logger: silentLogger,
    });
    api = server;
    chain = new AuthorizerChain([privilegedGroupAuthorizer, nodeAuthz, server.rbac.authorizer]);
    await bootstrapNamespaces(server, silentLogger);
    await nodeAuthz.start();
    const port = await server.start();
    const url = `https://127.0.0.1:${port}`;
    const write = (name: keyof typeof kc, cert: { certPem: string; keyPem: string }) => {
      kc[name] = join(dir, `${name}.kubeconfig`);
      writeKubeconfig(kc[name], buildKubeconfig({ clusterName: "skiff", server: url, caPem: pki.serverCa.certPem, clientCertPem: cert.certPem, clientKeyPem: cert.keyPem }));
    };
    write("admin", pki.clients.admin);
    write("n1", await issueNodeClientCert(pki, "n1"));
    write("n2", await issueNodeClientCert(pki, "n2"));

    ok(await as("admin", ["create", "namespace", "ns"]), "create namespace");
    // The ServiceAccount controller is not running here; ServiceAccount admission wants the default account.
    ok(await as("admin", ["apply", "-f", "-"], JSON.stringify(DEFAULT_SA("ns"))), "create default service account");
    ok(await as("admin", ["create", "secret", "generic", "x", "-n", "ns", "--from-literal=k=v"]), "create secret");
    ok(await as("admin", ["create", "configmap", "cm", "-n", "ns", "--from-literal=k=v"]), "create configmap");
    for (const n of ["n1", "n2"]) {
      ok(await as("admin", ["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name: n } })), `create node ${n}`);
    }
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p", namespace: "ns" },
      spec: {
        nodeName: "n1",
        containers: [{ name: "c", image: "busybox", envFrom: [{ configMapRef: { name: "cm" } }] }],
        volumes: [{ name: "s", secret: { secretName: "x" } }],
      },
    };
    ok(await as("admin", ["apply", "-f", "-"], JSON.stringify(pod)), "create pod");
  });

  after(async () => {
    nodeAuthz?.stop();
    await api?.stop();
    await store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("lets a node read the secret and configmap of a pod bound to it", async () => {
    await eventually("n1 reads secret x", async () => (await as("n1", ["get", "secret", "x", "-n", "ns", "-o", "jsonpath={.data.k}"])).stdout === "dg==");
    assert.equal(ok(await as("n1", ["get", "configmap", "cm", "-n", "ns", "-o", "jsonpath={.data.k}"]), "n1 reads configmap"), "v");
  });

  it("refuses another node's pod secrets with upstream's message", async () => {
    assertForbidden(
      await as("n2", ["get", "secret", "x", "-n", "ns"]),
      `secrets "x" is forbidden: User "system:node:n2" cannot get resource "secrets" in API group "" in the namespace "ns": no relationship found between node 'n2' and this object`,
    );
    assertForbidden(
      await as("n2", ["get", "configmap", "cm", "-n", "ns"]),
      `configmaps "cm" is forbidden: User "system:node:n2" cannot get resource "configmaps" in API group "" in the namespace "ns": no relationship found between node 'n2' and this object`,
    );
    assertForbidden(
      await as("n1", ["get", "secrets", "-n", "ns"]),
      `secrets is forbidden: User "system:node:n1" cannot list resource "secrets" in API group "" in the namespace "ns": No Object name found`,
    );
    assertForbidden(
      await as("n1", ["delete", "secret", "x", "-n", "ns"]),
      `secrets "x" is forbidden: User "system:node:n1" cannot delete resource "secrets" in API group "" in the namespace "ns": can only read resources of this type`,
    );
  });

  it("sees through path tricks in names", async () => {
    for (const path of ["/api/v1/namespaces/ns/secrets/x%2F..", "/api/v1/namespaces/ns/secrets/..%2Fx", "/api/v1/namespaces/other/secrets/x"]) {
      const r = await as("n1", ["get", "--raw", path]);
      assert.notEqual(r.status, 0, `${path}: ${r.stdout}`);
      assert.match(r.stderr, /\(Forbidden\)/, path);
      assert.doesNotMatch(r.stdout, /dg==/);
    }
  });

  it("keeps a node to its own Node object and the kubelet's labels", async () => {
    assertForbidden(await as("n1", ["label", "node", "n2", "a=b"]), `nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"`);
    assertForbidden(
      await as("n1", ["label", "node", "n1", "node-role.kubernetes.io/worker="]),
      `nodes "n1" is forbidden: is not allowed to modify labels: node-role.kubernetes.io/worker`,
    );
    ok(await as("n1", ["label", "node", "n1", "kubelet.kubernetes.io/ready=yes"]), "n1 sets a kubelet label on itself");
    assertForbidden(
      await as("n1", ["taint", "node", "n1", "k=v:NoSchedule"]),
      `nodes "n1" is forbidden: node "n1" is not allowed to modify taints`,
    );
  });

  it("keeps a node to its own pods and lease", async () => {
    assertForbidden(await as("n2", ["delete", "pod", "p", "-n", "ns", "--wait=false"]), `pods "Unknown" is forbidden: node "n2" can only delete pods with spec.nodeName set to itself`);
    const loose = { apiVersion: "v1", kind: "Pod", metadata: { name: "q", namespace: "ns" }, spec: { nodeName: "n1", containers: [{ name: "c", image: "busybox" }] } };
    assertForbidden(
      await as("n1", ["create", "-f", "-"], JSON.stringify(loose)),
      `error when creating "STDIN": pods "q" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only create mirror pods`,
    );
    const lease = (name: string) => JSON.stringify({ apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name, namespace: "kube-node-lease" }, spec: { holderIdentity: name } });
    ok(await as("n1", ["create", "-f", "-"], lease("n1")), "n1 creates its lease");
    assertForbidden(
      await as("n1", ["create", "-f", "-"], lease("n2")),
      `error when creating "STDIN": leases.coordination.k8s.io "n2" is forbidden: can only access node lease with the same name as the requesting node`,
    );
    assertForbidden(
      await as("n1", ["get", "lease", "n2", "-n", "kube-node-lease"]),
      `leases.coordination.k8s.io "n2" is forbidden: User "system:node:n1" cannot get resource "leases" in API group "coordination.k8s.io" in the namespace "kube-node-lease": can only access node lease with the same name as the requesting node`,
    );
  });

  it("takes the secret away once the pod is gone", async () => {
    ok(await as("admin", ["delete", "pod", "p", "-n", "ns", "--grace-period=0", "--force"]), "delete pod");
    await eventually("n1 loses secret x", async () => (await as("n1", ["get", "secret", "x", "-n", "ns"])).stderr.includes("no relationship found between node 'n1' and this object"));
  });
});

describe("PodSecurity admission (kubectl, skiff server)", () => {
  let server: TestServer;
  const kubectl = (args: string[], input?: string) => server.kubectl(args, { input });
  /** A namespace with its default ServiceAccount (applied: the ServiceAccount controller may make it first). */
  const namespace = (name: string) => {
    ok(kubectl(["create", "namespace", name]), `create namespace ${name}`);
    ok(kubectl(["apply", "-f", "-"], JSON.stringify(DEFAULT_SA(name))), `default service account of ${name}`);
  };

  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server?.stop();
  });

  it("rejects a pod that violates the enforced restricted level with upstream's message", () => {
    namespace("ps-restricted");
    ok(kubectl(["label", "namespace", "ps-restricted", "pod-security.kubernetes.io/enforce=restricted"]), "label namespace");
    assertForbidden(
      kubectl(["run", "x", "-n", "ps-restricted", "--image=busybox", "--restart=Never"]),
      'pods "x" is forbidden: violates PodSecurity "restricted:latest": ' +
        'allowPrivilegeEscalation != false (container "x" must set securityContext.allowPrivilegeEscalation=false), ' +
        'unrestricted capabilities (container "x" must set securityContext.capabilities.drop=["ALL"]), ' +
        'runAsNonRoot != true (pod or container "x" must set securityContext.runAsNonRoot=true), ' +
        'seccompProfile (pod or container "x" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
    );
    const compliant = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "good", namespace: "ps-restricted" },
      spec: {
        securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } },
        containers: [{ name: "c", image: "busybox", securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } }],
      },
    };
    ok(kubectl(["create", "-f", "-"], JSON.stringify(compliant)), "create compliant pod");
  });

  it("enforces baseline: a privileged host-network pod is refused, a plain one admitted", () => {
    namespace("ps-baseline");
    ok(kubectl(["label", "namespace", "ps-baseline", "pod-security.kubernetes.io/enforce=baseline", "pod-security.kubernetes.io/enforce-version=v1.33"]), "label");
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "priv", namespace: "ps-baseline" },
      spec: { hostNetwork: true, containers: [{ name: "c", image: "busybox", securityContext: { privileged: true } }] },
    };
    assertForbidden(
      kubectl(["create", "-f", "-"], JSON.stringify(pod)),
      'error when creating "STDIN": pods "priv" is forbidden: violates PodSecurity "baseline:v1.33": host namespaces (hostNetwork), privileged (container "c" must not set securityContext.privileged=true)',
    );
    ok(kubectl(["run", "plain", "-n", "ps-baseline", "--image=busybox", "--restart=Never"]), "plain pod");
  });

  it("warns for the warn level on workload templates, and for existing pods when enforce tightens, as kubectl prints", () => {
    namespace("ps-warn");
    ok(kubectl(["label", "namespace", "ps-warn", "pod-security.kubernetes.io/warn=restricted"]), "label warn");
    const created = kubectl(["create", "deployment", "web", "-n", "ps-warn", "--image=busybox"]);
    assert.equal(created.status, 0, created.stderr);
    assert.equal(
      created.stderr.trim(),
      'Warning: would violate PodSecurity "restricted:latest": ' +
        'allowPrivilegeEscalation != false (container "busybox" must set securityContext.allowPrivilegeEscalation=false), ' +
        'unrestricted capabilities (container "busybox" must set securityContext.capabilities.drop=["ALL"]), ' +
        'runAsNonRoot != true (pod or container "busybox" must set securityContext.runAsNonRoot=true), ' +
        'seccompProfile (pod or container "busybox" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
    );
    ok(kubectl(["run", "plain", "-n", "ps-warn", "--image=busybox", "--restart=Never"]), "plain pod (warned, admitted)");
    const tightened = kubectl(["label", "namespace", "ps-warn", "pod-security.kubernetes.io/enforce=baseline"]);
    assert.equal(tightened.status, 0, tightened.stderr);
    assert.equal(tightened.stderr.trim(), "");
    const host = { apiVersion: "v1", kind: "Pod", metadata: { name: "host", namespace: "ps-warn" }, spec: { hostPID: true, containers: [{ name: "c", image: "busybox" }] } };
    ok(kubectl(["label", "namespace", "ps-warn", "pod-security.kubernetes.io/enforce-"]), "relax");
    ok(kubectl(["create", "-f", "-"], JSON.stringify(host)), "host pod");
    const again = kubectl(["label", "namespace", "ps-warn", "pod-security.kubernetes.io/enforce=baseline"]);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(
      again.stderr.trim(),
      'Warning: existing pods in namespace "ps-warn" violate the new PodSecurity enforce level "baseline:latest"\nWarning: host: host namespaces',
    );
  });

  it("refuses a namespace label that names no level", () => {
    namespace("ps-bad");
    const r = kubectl(["label", "namespace", "ps-bad", "pod-security.kubernetes.io/enforce=strict"]);
    assert.notEqual(r.status, 0);
    assert.match(
      r.stderr,
      /Namespace "ps-bad" is invalid: metadata\.labels\[pod-security\.kubernetes\.io\/enforce\]: Invalid value: "strict": must be one of privileged, baseline, restricted/,
    );
  });
});
