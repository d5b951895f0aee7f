import assert from "node:assert/strict";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { Pod, Volume } from "kubernetes-types/core/v1.js";
import { FakeClock } from "../../machinery/clock.js";
import { silentLogger } from "../../machinery/log.js";
import { FakePodObjects } from "./fake-objects.js";
import { type Mounter, SimulatedMounter, SystemMounter } from "./mounter.js";
import { mountsWithoutManager, VolumeManager } from "./volume-manager.js";

const isRoot = process.getuid?.() === 0;
const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function harness(mounter: Mounter = new SimulatedMounter()) {
  const rootDir = mkdtempSync("/tmp/skiff-volumes-");
  roots.push(rootDir);
  const objects = new FakePodObjects();
  const clock = new FakeClock(Date.UTC(2024, 0, 1));
  const vm = new VolumeManager({ rootDir, mounter, objects, clock, logger: silentLogger, nodeAllocatable: () => ({ cpu: "2", memory: "1Gi" }) });
  const volDir = (plugin: string, name: string, uid = "u1") => join(rootDir, "pods", uid, "volumes", plugin, name);
  return { rootDir, objects, clock, vm, mounter, volDir };
}

function pod(volumes: Volume[], extra: Partial<Pod["spec"]> = {}, uid = "u1"): Pod {
  return {
    metadata: { name: "p", namespace: "ns", uid, labels: { app: "web" } },
    spec: { containers: [{ name: "app", image: "busybox", resources: { limits: { memory: "256Mi" } } }], serviceAccountName: "sa", ...extra, volumes },
  };
}

describe("VolumeManager", () => {
  it("fails a missing configMap with upstream's FailedMount text, backs off, then mounts once it exists", async () => {
    const h = harness();
    const p = pod([{ name: "cfg", configMap: { name: "missing" } }]);
    const first = await h.vm.mountPod(p);
    assert.deepEqual(first, { ready: false, failures: ['MountVolume.SetUp failed for volume "cfg" : configmap "missing" not found'], retryAt: h.clock.now() + 500 });
    // Within the back-off nothing is tried (no new event), after it the delay doubles.
    assert.deepEqual(await h.vm.mountPod(p), { ready: false, failures: [], retryAt: h.clock.now() + 500 });
    h.clock.advance(500);
    const second = await h.vm.mountPod(p);
    assert.equal(second.failures.length, 1);
    assert.equal(second.retryAt, h.clock.now() + 1000);
    h.objects.addConfigMap("ns", "missing", { k: "v" });
    h.clock.advance(1000);
    assert.deepEqual(await h.vm.mountPod(p), { ready: true, failures: [] });
    assert.equal(readFileSync(join(h.volDir("kubernetes.io~configmap", "cfg"), "k"), "utf8"), "v");
  });

  it("keeps configMap files current on every sync: changed in place, removed keys gone", async () => {
    const h = harness();
    h.objects.addConfigMap("ns", "app", { "a.conf": "one", "b.conf": "two" });
    const p = pod([{ name: "cfg", configMap: { name: "app", defaultMode: 0o640 } }]);
    assert.equal((await h.vm.mountPod(p)).ready, true);
    const dir = h.volDir("kubernetes.io~configmap", "cfg");
    assert.equal(statSync(dir).mode & 0o777, 0o777);
    assert.equal(readlinkSync(join(dir, "a.conf")), "..data/a.conf");
    assert.equal(statSync(join(dir, "a.conf")).mode & 0o777, 0o640);
    h.objects.addConfigMap("ns", "app", { "a.conf": "uno" });
    assert.equal((await h.vm.mountPod(p)).ready, true);
    assert.equal(readFileSync(join(dir, "a.conf"), "utf8"), "uno");
    assert.equal(existsSync(join(dir, "b.conf")), false);
    assert.equal(readdirSync(dir).filter((n) => n.startsWith("..2")).length, 1);
    // A deleted ConfigMap does not take the mounted files away; the refresh failure is reported.
    h.objects.configMaps.clear();
    const gone = await h.vm.mountPod(p);
    assert.equal(gone.ready, true);
    assert.deepEqual(gone.failures, ['MountVolume.SetUp failed for volume "cfg" : configmap "app" not found']);
    assert.equal(readFileSync(join(dir, "a.conf"), "utf8"), "uno");
  });

  it("projects secret items with modes into a memory-backed volume, optional sources tolerated", async () => {
    const h = harness();
    h.objects.addSecret("ns", "creds", { user: "admin", pass: "pw" });
    const p = pod([
      { name: "s", secret: { secretName: "creds", items: [{ key: "pass", path: "deep/pass", mode: 0o400 }] } },
      { name: "opt", secret: { secretName: "nope", optional: true } },
      { name: "bad", secret: { secretName: "creds", items: [{ key: "nokey", path: "x" }] } },
    ]);
    const r = await h.vm.mountPod(p);
    assert.deepEqual(r.failures, ['MountVolume.SetUp failed for volume "bad" : secret references non-existent secret key: nokey']);
    const dir = h.volDir("kubernetes.io~secret", "s");
    assert.equal(readFileSync(join(dir, "deep/pass"), "utf8"), "pw");
    assert.equal(statSync(join(dir, "deep/pass")).mode & 0o777, 0o400);
    assert.equal(existsSync(join(dir, "user")), false);
    // An optional Secret that is missing projects nothing (only the writer's own entries).
    assert.deepEqual(readdirSync(h.volDir("kubernetes.io~secret", "opt")).filter((n) => !n.startsWith("..")), []);
    const sim = h.mounter as SimulatedMounter;
    // 256Mi pod limit is below the 1Gi node allocatable: the tmpfs is sized by it.
    assert.equal(sim.mounts.get(dir), `tmpfs size=${256 * 1024 * 1024}`);
  });

  it("projects configMap, secret, downward API and a service account token; the token API's absence fails clearly", async () => {
    const h = harness();
    h.objects.addConfigMap("ns", "ca", { "ca.crt": "CERT" });
    const p = pod([
      {
        name: "kube-api-access",
        projected: {
          defaultMode: 0o644,
          sources: [
            { serviceAccountToken: { path: "token", expirationSeconds: 3607 } },
            { configMap: { name: "ca", items: [{ key: "ca.crt", path: "ca.crt" }] } },
            { downwardAPI: { items: [{ path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } }] } },
          ],
        },
      },
    ]);
    assert.equal((await h.vm.mountPod(p)).ready, true);
    const dir = h.volDir("kubernetes.io~projected", "kube-api-access");
    assert.equal(readFileSync(join(dir, "token"), "utf8"), "token-1");
    assert.equal(readFileSync(join(dir, "ca.crt"), "utf8"), "CERT");
    assert.equal(readFileSync(join(dir, "namespace"), "utf8"), "ns");
    assert.deepEqual(h.objects.tokenRequests[0], {
      namespace: "ns",
      serviceAccount: "sa",
      request: { spec: { audiences: [], expirationSeconds: 3607, boundObjectRef: { apiVersion: "v1", kind: "Pod", name: "p", uid: "u1" } } },
    });
    // The token is reused while fresh: the next sync asks for none.
    await h.vm.mountPod(p);
    assert.equal(h.objects.tokenRequests.length, 1);

    const h2 = harness();
    h2.objects.tokenMode = "unserved";
    const r = await h2.vm.mountPod(pod([{ name: "tok", projected: { sources: [{ serviceAccountToken: { path: "t" } }, { configMap: { name: "nope" } }] } }]));
    assert.deepEqual(r.failures, [
      'MountVolume.SetUp failed for volume "tok" : [failed to fetch token: the API server does not serve the TokenRequest API (POST /api/v1/namespaces/ns/serviceaccounts/sa/token): the server could not find the requested resource, configmap "nope" not found]',
    ]);
    assert.equal(r.ready, false);
    h2.objects.tokenMode = "no-sa";
    h2.clock.advance(1000);
    const r2 = await h2.vm.mountPod(pod([{ name: "tok", projected: { sources: [{ serviceAccountToken: { path: "t" } }] } }]));
    assert.deepEqual(r2.failures, ['MountVolume.SetUp failed for volume "tok" : failed to fetch token: serviceaccounts "sa" not found']);
  });

  it("writes downwardAPI files again when labels change", async () => {
    const h = harness();
    const v: Volume = {
      name: "info",
      downwardAPI: {
        items: [
          { path: "labels", fieldRef: { fieldPath: "metadata.labels" } },
          { path: "mem", resourceFieldRef: { containerName: "app", resource: "limits.memory", divisor: "1Mi" } },
          { path: "cpu", resourceFieldRef: { containerName: "app", resource: "limits.cpu", divisor: "1m" } },
        ],
      },
    };
    const p = pod([v]);
    await h.vm.mountPod(p);
    const dir = h.volDir("kubernetes.io~downward-api", "info");
    assert.equal(readFileSync(join(dir, "labels"), "utf8"), 'app="web"');
    assert.equal(readFileSync(join(dir, "mem"), "utf8"), "256");
    assert.equal(readFileSync(join(dir, "cpu"), "utf8"), "2000");
    const relabeled = { ...p, metadata: { ...p.metadata, labels: { app: "web", tier: "front" } } };
    await h.vm.mountPod(relabeled);
    assert.equal(readFileSync(join(dir, "labels"), "utf8"), 'app="web"\ntier="front"');
    const bad = await h.vm.mountPod(pod([{ name: "x", downwardAPI: { items: [{ path: "n", fieldRef: { fieldPath: "spec.nodeName" } }] } }], {}, "u2"));
    assert.deepEqual(bad.failures, ['MountVolume.SetUp failed for volume "x" : unsupported fieldPath: spec.nodeName']);
  });

  it("resolves claims to bound local and hostPath volumes, waits on unbound ones, refuses other kinds", async () => {
    const h = harness();
    const local = join(h.rootDir, "local-disk");
    mkdirSync(local);
    h.objects.claims.set("ns/unbound", { metadata: { name: "unbound", uid: "c0" }, status: { phase: "Pending" } });
    h.objects.claims.set("ns/data", { metadata: { name: "data", uid: "c1" }, spec: { volumeName: "pv-local" }, status: { phase: "Bound" } });
    h.objects.claims.set("ns/nfs", { metadata: { name: "nfs", uid: "c2" }, spec: { volumeName: "pv-nfs" }, status: { phase: "Bound" } });
    h.objects.volumes.set("pv-local", { metadata: { name: "pv-local" }, spec: { local: { path: local }, claimRef: { uid: "c1" } } });
    h.objects.volumes.set("pv-nfs", { metadata: { name: "pv-nfs" }, spec: { nfs: { server: "x", path: "/" }, claimRef: { uid: "c2" } } });
    const r = await h.vm.mountPod(
      pod([
        { name: "a", persistentVolumeClaim: { claimName: "unbound" } },
        { name: "b", persistentVolumeClaim: { claimName: "data", readOnly: true } },
        { name: "c", persistentVolumeClaim: { claimName: "nfs" } },
        { name: "d", nfs: { server: "x", path: "/" } },
      ]),
    );
    assert.deepEqual(r.failures, [
      'MountVolume.SetUp failed for volume "pv-nfs" : skiff does not support nfs persistent volumes (supported: local, hostPath)',
      'MountVolume.SetUp failed for volume "d" : skiff does not support nfs volumes (supported: emptyDir, configMap, secret, projected, downwardAPI, hostPath, persistentVolumeClaim, ephemeral)',
      "Unable to attach or mount volumes: unmounted volumes=[a c d], unattached volumes=[], failed to process volumes=[a]: error processing PVC ns/unbound: PVC is not bound",
    ]);
    assert.deepEqual(h.vm.mountedVolumes("u1").get("b"), { path: local, readOnly: true, remount: false, displayName: "pv-local" });
  });

  it("builds container mounts: read-only sources, propagation, /etc/hosts, a termination-message file", async () => {
    const h = harness();
    h.objects.addConfigMap("ns", "app", { k: "v" });
    const p = pod([
      { name: "cfg", configMap: { name: "app" } },
      { name: "scratch", emptyDir: {} },
    ]);
    p.spec!.hostAliases = [{ ip: "10.0.0.9", hostnames: ["db", "db.local"] }];
    assert.equal((await h.vm.mountPod(p)).ready, true);
    const c = { name: "app", image: "busybox", volumeMounts: [{ name: "cfg", mountPath: "/etc/app" }, { name: "scratch", mountPath: "/scratch", mountPropagation: "HostToContainer" }] };
    const r = await h.vm.containerMounts(p, c, [], ["10.42.0.7"]);
    assert.ok(r.ok, r.ok ? "" : r.message);
    const podDir = join(h.rootDir, "pods/u1");
    const [cfg, scratch, hosts, term] = r.mounts;
    assert.deepEqual(cfg, { containerPath: "/etc/app", hostPath: h.volDir("kubernetes.io~configmap", "cfg"), readonly: true, propagation: "private" });
    assert.deepEqual(scratch, { containerPath: "/scratch", hostPath: h.volDir("kubernetes.io~empty-dir", "scratch"), readonly: false, propagation: "host-to-container" });
    assert.deepEqual(hosts, { containerPath: "/etc/hosts", hostPath: join(podDir, "etc-hosts"), readonly: false, propagation: "private" });
    assert.equal(
      readFileSync(hosts!.hostPath, "utf8"),
      "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n10.42.0.7\tp\n\n# Entries added by HostAliases.\n10.0.0.9\tdb\tdb.local\n",
    );
    assert.equal(term!.containerPath, "/dev/termination-log");
    assert.match(term!.hostPath, new RegExp(`^${podDir}/containers/app/[0-9a-f]{8}$`));
    assert.equal(statSync(term!.hostPath).mode & 0o777, 0o666);

    const missing = await h.vm.containerMounts(p, { name: "x", volumeMounts: [{ name: "ghost", mountPath: "/g" }] }, [], []);
    assert.deepEqual(missing, { ok: false, message: 'cannot find volume "ghost" to mount into container "x"' });
    const bidi = await h.vm.containerMounts(p, { name: "x", volumeMounts: [{ name: "scratch", mountPath: "/s", mountPropagation: "Bidirectional" }] }, [], []);
    assert.deepEqual(bidi, { ok: false, message: "Bidirectional mount propagation is available only to privileged containers" });
    const rro = await h.vm.containerMounts(p, { name: "x", volumeMounts: [{ name: "scratch", mountPath: "/s", readOnly: true, recursiveReadOnly: "Enabled" }] }, [], []);
    assert.deepEqual(rro, { ok: false, message: 'failed to resolve recursive read-only mode: volume "scratch" requested recursive read-only mode, but it is not supported by the runtime' });
    const expr = await h.vm.containerMounts(p, { name: "x", volumeMounts: [{ name: "scratch", mountPath: "/s", subPathExpr: "$(POD)" }] }, [], []);
    assert.deepEqual(expr, { ok: false, message: "missing value for POD" });
  });

  it("applies the pod's fsGroup to emptyDir volumes", { skip: !isRoot && "chown needs root" }, async () => {
    const h = harness();
    await h.vm.mountPod(pod([{ name: "shared", emptyDir: {} }], { securityContext: { fsGroup: 4321 } }));
    const st = statSync(h.volDir("kubernetes.io~empty-dir", "shared"));
    assert.equal(st.gid, 4321);
    assert.equal(st.mode & 0o2000, 0o2000);
  });

  it("mounts memory emptyDirs as a real tmpfs of the computed size and tears everything down", { skip: !isRoot && "mounting needs root" }, async () => {
    const mounter = new SystemMounter();
    const h = harness(mounter);
    h.objects.addSecret("ns", "creds", { a: "b" });
    const p = pod([
      { name: "cache", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
      { name: "s", secret: { secretName: "creds" } },
      { name: "disk", emptyDir: {} },
    ]);
    assert.equal((await h.vm.mountPod(p)).ready, true);
    const cache = h.volDir("kubernetes.io~empty-dir", "cache");
    const secret = h.volDir("kubernetes.io~secret", "s");
    assert.deepEqual((await mounter.mountPointsUnder(h.rootDir)).sort(), [cache, secret].sort());
    const info = readFileSync("/proc/self/mountinfo", "utf8").split("\n").find((l) => l.split(" ")[4] === cache)!;
    assert.match(info, / - tmpfs tmpfs \S*size=16384k/);
    // Mounting again is a no-op (no second tmpfs stacked on the first).
    await h.vm.mountPod(p);
    assert.equal((await mounter.mountPointsUnder(h.rootDir)).length, 2);
    // A subPath bind of the tmpfs, then the whole pod goes.
    const sub = await h.vm.containerMounts(p, { name: "app", volumeMounts: [{ name: "cache", mountPath: "/c", subPath: "part" }] }, [], []);
    assert.ok(sub.ok, sub.ok ? "" : sub.message);
    assert.equal((await mounter.mountPointsUnder(h.rootDir)).length, 3);
    assert.equal(await h.vm.unmountPod("u1"), true);
    assert.deepEqual(await mounter.mountPointsUnder(h.rootDir), []);
    assert.equal(existsSync(join(h.rootDir, "pods/u1/volumes")), false);
    assert.equal(existsSync(join(h.rootDir, "pods/u1/etc-hosts")) || existsSync(join(h.rootDir, "pods/u1/containers")), true);
    assert.equal(await h.vm.removePod("u1"), true);
    assert.equal(existsSync(join(h.rootDir, "pods/u1")), false);
  });

  it("removes directories of pods that left while the kubelet was away", async () => {
    const h = harness();
    await h.vm.mountPod(pod([{ name: "d", emptyDir: {} }], {}, "gone"));
    await h.vm.mountPod(pod([{ name: "d", emptyDir: {} }], {}, "kept"));
    await h.vm.cleanupOrphans(new Set(["kept"]));
    assert.deepEqual(readdirSync(join(h.rootDir, "pods")), ["kept"]);
    assert.ok(lstatSync(h.volDir("kubernetes.io~empty-dir", "d", "kept")).isDirectory());
  });
});

describe("mountsWithoutManager (simulated nodes)", () => {
  const pod = (mounts: string[]): Pod => ({
    metadata: { name: "p", namespace: "default", uid: "u" },
    spec: { volumes: [{ name: "kube-api-access-abcde", projected: { sources: [] } }], containers: [{ name: "c", volumeMounts: mounts.map((name) => ({ name, mountPath: `/m/${name}` })) }] },
  });
  it("mounts nothing for volumes the pod declares", () => {
    const p = pod(["kube-api-access-abcde"]);
    assert.deepEqual(mountsWithoutManager(p, p.spec!.containers[0]!), { ok: true, mounts: [] });
  });
  it("fails a mount naming no volume of the pod, as upstream", () => {
    const p = pod(["kube-api-access-abcde", "ghost"]);
    assert.deepEqual(mountsWithoutManager(p, p.spec!.containers[0]!), { ok: false, message: 'cannot find volume "ghost" to mount into container "c"' });
  });
});
