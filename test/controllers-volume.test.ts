/**
 * Persistent storage through a real server and simulated nodes, driven
 * with kubectl: the `local-path` default StorageClass made at start, a
 * claim that waits for its first pod, is provisioned on the node the
 * scheduler picked and bound, and goes (with its PV) when deleted; claims
 * that cannot bind keep their pod Pending with upstream's messages; a
 * pre-made PV binds to a matching claim and is kept (Retain) after it.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Event as CoreEvent, PersistentVolume, PersistentVolumeClaim, Pod } from "kubernetes-types/core/v1.js";
import type { StorageClass } from "kubernetes-types/storage/v1.js";
import { configFromKubeconfig } from "../src/client/config.js";
import { ResourceClient } from "../src/client/resource-client.js";
import { CORE_EVENTS, PERSISTENT_VOLUME_CLAIMS, PERSISTENT_VOLUMES, PODS } from "../src/client/resources.js";
import { RestClient } from "../src/client/rest-client.js";
import { isNotFound } from "../src/machinery/status-error.js";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";
import { startSimAgent } from "./support/sim-agent.js";
import { stopProcess } from "./support/skiff.js";
import { eventually } from "./support/eventually.js";

const NS = "storage";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("persistent volumes (persistentvolume-binder, local-path-provisioner, pvc/pv-protection)", () => {
  let server: TestServer;
  let agent: ChildProcess | undefined;
  let dir: string;
  let rest: RestClient;
  let pvcs: ResourceClient<PersistentVolumeClaim>;
  let pvs: ResourceClient<PersistentVolume>;
  let pods: ResourceClient<Pod>;

  const kubectl = (args: string[], input?: string) => ok(server.kubectl(args, input === undefined ? {} : { input }), `kubectl ${args.join(" ")}`);
  const orNone = async <T>(p: Promise<T>): Promise<T | undefined> => p.catch((err) => (isNotFound(err) ? undefined : Promise.reject(err)));
  /** Events (core/v1) about `name` in the namespace, as `reason: message`. */
  const eventsAbout = async (kind: string, name: string, ns = NS): Promise<string[]> => {
    const list = await new ResourceClient<CoreEvent>(rest, CORE_EVENTS, ns).list({ fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name}` });
    return list.items.map((e) => `${e.reason}: ${e.message}`);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "skiff-volume-e2e-"));
    server = await startTestServer([]);
    agent = (await startSimAgent(server, { nodes: 2, nodeName: "vol", dataDir: join(dir, "agent") })).process;
    rest = new RestClient(configFromKubeconfig(server.kubeconfig));
    pvcs = new ResourceClient<PersistentVolumeClaim>(rest, PERSISTENT_VOLUME_CLAIMS, NS);
    pvs = new ResourceClient<PersistentVolume>(rest, PERSISTENT_VOLUMES);
    pods = new ResourceClient<Pod>(rest, PODS, NS);
    kubectl(["create", "namespace", NS]);
  });

  after(async () => {
    rest?.close();
    if (agent) await stopProcess(agent);
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the server makes k3s's local-path StorageClass, the default", () => {
    const sc = JSON.parse(kubectl(["get", "storageclass", "local-path", "-o", "json"])) as StorageClass;
    assert.equal(sc.provisioner, "rancher.io/local-path");
    assert.equal(sc.volumeBindingMode, "WaitForFirstConsumer");
    assert.equal(sc.reclaimPolicy, "Delete");
    assert.equal(sc.metadata?.annotations?.["storageclass.kubernetes.io/is-default-class"], "true");
    assert.match(kubectl(["get", "storageclass"]), /^local-path \(default\)\s+rancher\.io\/local-path\s+Delete\s+WaitForFirstConsumer\s+false\s/m);
  });

  it("a default-class claim waits for its first pod, is provisioned on the pod's node and bound; the pod runs", async () => {
    kubectl(
      ["apply", "-n", NS, "-f", "-"],
      JSON.stringify({ apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }),
    );
    // Before a pod: Pending, with the class filled in and WaitForFirstConsumer said.
    await eventually("WaitForFirstConsumer", async () =>
      (await eventsAbout("PersistentVolumeClaim", "data")).includes("WaitForFirstConsumer: waiting for first consumer to be created before binding") ? true : undefined,
    );
    const waiting = await pvcs.get("data");
    assert.equal(waiting.spec?.storageClassName, "local-path");
    assert.equal(waiting.status?.phase, "Pending");
    assert.equal(waiting.spec?.volumeName, undefined);

    // A pod using it: the sim runtime mounts nothing, so the claim is a pod volume without a container mount.
    kubectl(
      ["apply", "-n", NS, "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "app" },
        spec: { containers: [{ name: "c", image: "registry.invalid/app:1" }], volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data" } }] },
      }),
    );
    const bound = await eventually("claim Bound", async () => {
      const c = await pvcs.get("data");
      return c.status?.phase === "Bound" ? c : undefined;
    });
    const pod = await eventually("pod Running", async () => {
      const p = await pods.get("app");
      return p.status?.phase === "Running" ? p : undefined;
    });
    const node = pod.spec?.nodeName ?? "";
    assert.match(node, /^vol-[01]$/);
    const uid = bound.metadata?.uid ?? "";
    const ann = bound.metadata?.annotations ?? {};
    assert.equal(bound.spec?.volumeName, `pvc-${uid}`);
    assert.equal(ann["volume.kubernetes.io/selected-node"], node);
    assert.equal(ann["volume.kubernetes.io/storage-provisioner"], "rancher.io/local-path");
    assert.equal(ann["volume.beta.kubernetes.io/storage-provisioner"], "rancher.io/local-path");
    assert.equal(ann["pv.kubernetes.io/bind-completed"], "yes");
    assert.equal(ann["pv.kubernetes.io/bound-by-controller"], "yes");
    assert.deepEqual(bound.status?.capacity, { storage: "1Gi" });
    assert.deepEqual(bound.status?.accessModes, ["ReadWriteOnce"]);

    const pv = await pvs.get(`pvc-${uid}`);
    assert.equal(pv.status?.phase, "Bound");
    assert.equal(pv.spec?.persistentVolumeReclaimPolicy, "Delete");
    assert.equal(pv.spec?.storageClassName, "local-path");
    assert.equal(pv.spec?.claimRef?.uid, uid);
    assert.equal(pv.metadata?.annotations?.["pv.kubernetes.io/provisioned-by"], "rancher.io/local-path");
    assert.equal(pv.spec?.hostPath?.type, "DirectoryOrCreate");
    assert.match(pv.spec?.hostPath?.path ?? "", new RegExp(`/storage/pvc-${uid}_${NS}_data$`));
    assert.deepEqual(pv.spec?.nodeAffinity?.required?.nodeSelectorTerms, [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [node] }] }]);
    assert.deepEqual(pv.metadata?.finalizers, ["kubernetes.io/pv-protection"]);

    const events = await eventsAbout("PersistentVolumeClaim", "data");
    for (const e of [
      "ExternalProvisioning: Waiting for a volume to be created either by the external provisioner 'rancher.io/local-path' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.",
      `Provisioning: External provisioner is provisioning volume for claim "${NS}/data"`,
      `ProvisioningSucceeded: Successfully provisioned volume pvc-${uid}`,
    ]) {
      assert.ok(events.includes(e), `missing event ${e} in ${JSON.stringify(events)}`);
    }
    assert.match(kubectl(["get", "pvc", "-n", NS, "data"]), new RegExp(`^data\\s+Bound\\s+pvc-${uid}\\s+1Gi\\s+RWO\\s+local-path\\s`, "m"));
  });

  it("deleting the claim waits for its pod, then deletes its PV (reclaim policy Delete)", async () => {
    const uid = (await pvcs.get("data")).metadata?.uid ?? "";
    kubectl(["delete", "pvc", "-n", NS, "data", "--wait=false"]);
    // A running pod holds the claim (pvc-protection).
    await sleep(1000);
    const held = await pvcs.get("data");
    assert.ok(held.metadata?.deletionTimestamp);
    assert.deepEqual(held.metadata?.finalizers, ["kubernetes.io/pvc-protection"]);
    kubectl(["delete", "pod", "-n", NS, "app", "--wait=true", "--timeout=30s"]);
    await eventually("claim gone", async () => ((await orNone(pvcs.get("data"))) === undefined ? true : undefined));
    await eventually("PV gone", async () => ((await orNone(pvs.get(`pvc-${uid}`))) === undefined ? true : undefined));
    const events = await eventsAbout("PersistentVolume", `pvc-${uid}`, "default");
    assert.ok(
      events.some((e) => e.startsWith(`VolumeDirectoryNotRemoved: the directory `) && e.includes(`pvc-${uid}_${NS}_data on node "vol-`)),
      `events: ${JSON.stringify(events)}`,
    );
  });

  it("claims that cannot bind keep their pod Pending with upstream's messages", async () => {
    const claim = (name: string, storageClassName: string) =>
      JSON.stringify({ apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name }, spec: { storageClassName, accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } });
    const podUsing = (name: string, claimName: string) =>
      JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name }, spec: { containers: [{ name: "c", image: "registry.invalid/app:1" }], volumes: [{ name: "v", persistentVolumeClaim: { claimName } }] } });
    kubectl(["apply", "-n", NS, "-f", "-"], claim("no-class", ""));
    kubectl(["apply", "-n", NS, "-f", "-"], claim("none", "none"));
    kubectl(["apply", "-n", NS, "-f", "-"], podUsing("waits-no-class", "no-class"));
    kubectl(["apply", "-n", NS, "-f", "-"], podUsing("waits-none", "none"));
    await eventually("FailedBinding", async () =>
      (await eventsAbout("PersistentVolumeClaim", "no-class")).includes("FailedBinding: no persistent volumes available for this claim and no storage class is set") ? true : undefined,
    );
    await eventually("ProvisioningFailed", async () =>
      (await eventsAbout("PersistentVolumeClaim", "none")).includes('ProvisioningFailed: storageclass.storage.k8s.io "none" not found') ? true : undefined,
    );
    for (const name of ["waits-no-class", "waits-none"]) {
      const msg = await eventually(`FailedScheduling of ${name}`, async () =>
        (await eventsAbout("Pod", name)).find((e) => e.startsWith("FailedScheduling: ")),
      );
      assert.match(msg, /^FailedScheduling: 0\/2 nodes are available: pod has unbound immediate PersistentVolumeClaims\. /);
      const p = await pods.get(name);
      assert.equal(p.status?.phase, "Pending");
      assert.equal(p.spec?.nodeName, undefined);
    }
    assert.equal((await pvcs.get("no-class")).status?.phase, "Pending");
    kubectl(["delete", "pod", "-n", NS, "waits-no-class", "waits-none", "--wait=false"]);
  });

  it("a pre-made PV: the smallest that fits binds; Released and kept once the claim goes (Retain)", async () => {
    const pv = (name: string, size: string) =>
      JSON.stringify({
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name },
        spec: { capacity: { storage: size }, accessModes: ["ReadWriteOnce"], persistentVolumeReclaimPolicy: "Retain", storageClassName: "manual", hostPath: { path: `/tmp/skiff-never-used/${name}` } },
      });
    kubectl(["apply", "-f", "-"], pv("manual-big", "5Gi"));
    kubectl(["apply", "-f", "-"], pv("manual-small", "2Gi"));
    await eventually("PVs Available", async () => ((await pvs.get("manual-small")).status?.phase === "Available" && (await pvs.get("manual-big")).status?.phase === "Available" ? true : undefined));
    kubectl(
      ["apply", "-n", NS, "-f", "-"],
      JSON.stringify({ apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: "static" }, spec: { storageClassName: "manual", accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }),
    );
    const c = await eventually("static claim Bound", async () => {
      const x = await pvcs.get("static");
      return x.status?.phase === "Bound" ? x : undefined;
    });
    assert.equal(c.spec?.volumeName, "manual-small");
    assert.deepEqual(c.status?.capacity, { storage: "2Gi" });
    assert.equal((await pvs.get("manual-small")).spec?.claimRef?.name, "static");
    assert.equal((await pvs.get("manual-big")).status?.phase, "Available");
    kubectl(["delete", "pvc", "-n", NS, "static", "--wait=true", "--timeout=30s"]);
    const released = await eventually("PV Released", async () => {
      const v = await pvs.get("manual-small");
      return v.status?.phase === "Released" ? v : undefined;
    });
    assert.equal(released.spec?.claimRef?.name, "static");
    assert.match(kubectl(["get", "pv", "manual-small"]), /^manual-small\s+2Gi\s+RWO\s+Retain\s+Released\s+storage\/static\s+manual\s/m);
    kubectl(["delete", "pv", "manual-small", "manual-big", "--wait=true", "--timeout=30s"]);
  });
});
