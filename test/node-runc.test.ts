/**
 * A real one-node skiff server as a new user meets it (issue: kubelet and
 * container runtime): pods run in real containers (runc under conmon) with
 * their own IPs from the CNI bridge, and the states users debug read as on
 * any Kubernetes cluster: CrashLoopBackOff, ErrImagePull/ImagePullBackOff,
 * OOMKilled, ContainerCreating with FailedMount. Deleting a pod leaves
 * nothing behind.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { release } from "node:os";
import { after, before, describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { ok } from "./support/cluster.js";
import { BUSYBOX_IMAGE, type NodeServer, nodeLeftovers, startNodeServer } from "./support/node-cluster.js";
import { buildTestImage, pushImage, startTestRegistry, type TestRegistry } from "./support/test-images.js";

let srv: NodeServer;
let registry: TestRegistry;
let privateRegistry: TestRegistry;
const PRIVATE_USER = { username: "puller", password: "s3cret-pw" };

before(async () => {
  registry = await startTestRegistry();
  privateRegistry = await startTestRegistry({ auth: "htpasswd", users: [PRIVATE_USER] });
  const image = buildTestImage({ name: "private/busybox:1" });
  try {
    await pushImage(image, `${privateRegistry.host}/private/busybox:1`, { creds: PRIVATE_USER });
  } finally {
    image.cleanup();
  }
  const mirror = (r: TestRegistry) => `  "${r.host}":\n    endpoint:\n      - "${r.url}"\n`;
  srv = await startNodeServer({
    kubeletConfig: ["crashLoopBackOff:", "  initialContainerRestartPeriod: 2s", "  maxContainerRestartPeriod: 8s", "imagePullBackOff:", "  initialPeriod: 1s", "  maxPeriod: 4s"],
    registries: `mirrors:\n${mirror(registry)}${mirror(privateRegistry)}`,
  });
});

after(async () => {
  await srv?.stop();
  await registry?.stop();
  await privateRegistry?.stop();
  if (srv) assert.deepEqual(nodeLeftovers(srv), [], "the node left nothing behind");
});

function apply(pod: object): void {
  ok(srv.kubectl(["apply", "-f", "-"], { input: JSON.stringify(pod) }), "apply");
}

function pod(name: string, spec: Record<string, unknown>): object {
  return { apiVersion: "v1", kind: "Pod", metadata: { name, namespace: "default" }, spec: { terminationGracePeriodSeconds: 2, ...spec } };
}

function getPod(name: string): Pod | undefined {
  const r = srv.kubectl(["get", "pod", name, "-o", "json"]);
  return r.status === 0 ? (JSON.parse(r.stdout) as Pod) : undefined;
}

/** The STATUS column of `kubectl get pods`. */
function statusColumn(name: string): string {
  const out = srv.kubectl(["get", "pod", name, "--no-headers"]).stdout.trim();
  return out.split(/\s+/)[2] ?? "";
}

function events(name: string): string {
  return srv.kubectl(["get", "events", "--field-selector", `involvedObject.name=${name}`, "-o", "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}"]).stdout;
}

describe("a real node", () => {
  it("registers with the machine's facts", () => {
    const node = JSON.parse(ok(srv.kubectl(["get", "node", srv.nodeName, "-o", "json"]), "get node")) as import("kubernetes-types/core/v1.js").Node;
    const info = node.status!.nodeInfo!;
    assert.equal(info.kernelVersion, release());
    assert.ok(info.osImage.length > 0);
    assert.match(info.containerRuntimeVersion, /^runc:\/\/\d+\.\d+/);
    assert.match(info.kubeletVersion, /^v1\.\d+\.\d+/);
    assert.equal(node.status!.capacity!.pods, "110");
    assert.match(node.spec!.podCIDR ?? "", /^10\.199\.\d+\.0\/24$/);
    assert.deepEqual(node.status!.conditions!.map((c) => c.type), ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]);
    assert.ok((node.status!.daemonEndpoints!.kubeletEndpoint!.Port ?? 0) > 0);
  });

  it("runs a busybox pod whose output kubectl logs shows", async () => {
    apply(pod("hello", { restartPolicy: "Never", containers: [{ name: "main", image: BUSYBOX_IMAGE, imagePullPolicy: "Never", command: ["sh", "-c", "echo hello from skiff; echo to stderr >&2"] }] }));
    await srv.eventually("hello to succeed", () => (getPod("hello")?.status?.phase === "Succeeded" ? true : undefined));
    const logs = ok(srv.kubectl(["logs", "hello"]), "logs");
    assert.equal(logs, "hello from skiff\nto stderr\n");
    assert.equal(statusColumn("hello"), "Completed");
    const st = getPod("hello")!.status!.containerStatuses![0]!;
    assert.equal(st.state?.terminated?.exitCode, 0);
    assert.equal(st.state?.terminated?.reason, "Completed");
    assert.match(st.containerID ?? "", /^runc:\/\/[0-9a-f]{64}$/);
    assert.match(st.imageID ?? "", /sha256:[0-9a-f]{64}/);
  });

  it("gives pods distinct IPs that answer each other", async () => {
    for (const n of ["web-a", "web-b", "web-c"]) {
      apply(pod(n, { containers: [{ name: "web", image: BUSYBOX_IMAGE, imagePullPolicy: "Never", command: ["sh", "-c", `mkdir -p /www && echo ${n} > /www/index.html && exec httpd -f -p 8080 -h /www`] }] }));
    }
    const ips = await srv.eventually("three running pods with IPs", () => {
      const got = ["web-a", "web-b", "web-c"].map((n) => getPod(n));
      if (!got.every((p) => p?.status?.phase === "Running" && p.status.podIP)) return undefined;
      return got.map((p) => p!.status!.podIP!);
    });
    assert.equal(new Set(ips).size, 3, `distinct IPs: ${ips.join(", ")}`);
    for (const ip of ips) assert.match(ip, /^10\.199\.\d+\.\d+$/);
    apply(
      pod("client", {
        restartPolicy: "Never",
        containers: [{ name: "c", image: BUSYBOX_IMAGE, imagePullPolicy: "Never", command: ["sh", "-c", ips.map((ip) => `wget -q -O - http://${ip}:8080/`).join(" && ")] }],
      }),
    );
    await srv.eventually("the client to finish", () => (["Succeeded", "Failed"].includes(getPod("client")?.status?.phase ?? "") ? true : undefined));
    assert.equal(ok(srv.kubectl(["logs", "client"]), "logs client"), "web-a\nweb-b\nweb-c\n");
  });

  it("shows CrashLoopBackOff with growing back-off and restart counts", async () => {
    apply(pod("crasher", { containers: [{ name: "app", image: BUSYBOX_IMAGE, imagePullPolicy: "Never", command: ["sh", "-c", "echo cannot reach db; exit 1"] }] }));
    const st = await srv.eventually(
      "CrashLoopBackOff after restarts",
      () => {
        const s = getPod("crasher")?.status?.containerStatuses?.[0];
        return s?.state?.waiting?.reason === "CrashLoopBackOff" && (s.restartCount ?? 0) >= 2 ? s : undefined;
      },
      90_000,
    );
    assert.match(st.state!.waiting!.message!, /^back-off (2|4|8)s restarting failed container=app pod=crasher_default\([0-9a-f-]+\)$/);
    assert.equal(st.lastState?.terminated?.exitCode, 1);
    assert.equal(st.lastState?.terminated?.reason, "Error");
    await srv.eventually("CrashLoopBackOff in kubectl get pods", () => (statusColumn("crasher") === "CrashLoopBackOff" ? true : undefined));
    assert.match(events("crasher"), /BackOff: Back-off restarting failed container app in pod crasher_default/);
    assert.equal(ok(srv.kubectl(["logs", "crasher", "--previous"]), "logs --previous"), "cannot reach db\n");
  });

  it("shows ErrImagePull then ImagePullBackOff for an image that does not exist", async () => {
    const image = `${registry.host}/nothing/here:1`;
    apply(pod("nopull", { containers: [{ name: "app", image }] }));
    // The state alternates as the back-off runs out and the pull is retried; the column follows it.
    await srv.eventually("ImagePullBackOff in kubectl get pods", () => (statusColumn("nopull") === "ImagePullBackOff" ? true : undefined));
    const ev = events("nopull");
    assert.match(ev, new RegExp(`Failed: Failed to pull image "${image.replace(/[./]/g, "\\$&")}": .*not found`));
    assert.match(ev, /Failed: Error: ErrImagePull/);
    assert.match(ev, /Failed: Error: ImagePullBackOff/);
    assert.match(ev, new RegExp(`BackOff: Back-off pulling image "${image.replace(/[./]/g, "\\$&")}"`));
  });

  it("pulls a private image with imagePullSecrets, and says unauthorized without", async () => {
    const image = `${privateRegistry.host}/private/busybox:1`;
    apply(pod("anon", { restartPolicy: "Never", containers: [{ name: "app", image, command: ["true"] }] }));
    await srv.eventually("anonymous pull to fail", () => (events("anon").includes("Failed to pull image") ? true : undefined));
    assert.match(events("anon"), /Failed to pull image .*(unauthorized|authentication required)/i);
    ok(
      srv.kubectl(["create", "secret", "docker-registry", "regcred", `--docker-server=${privateRegistry.host}`, `--docker-username=${PRIVATE_USER.username}`, `--docker-password=${PRIVATE_USER.password}`]),
      "create secret",
    );
    apply(pod("authed", { restartPolicy: "Never", imagePullSecrets: [{ name: "regcred" }], containers: [{ name: "app", image, command: ["sh", "-c", "echo private image ran"] }] }));
    await srv.eventually("the private image to run", () => (getPod("authed")?.status?.phase === "Succeeded" ? true : undefined), 90_000);
    assert.match(events("authed"), /Pulled: Successfully pulled image/);
    assert.equal(ok(srv.kubectl(["logs", "authed"]), "logs"), "private image ran\n");
  });

  it("reports OOMKilled for a container over its memory limit", async () => {
    apply(
      pod("hog", {
        restartPolicy: "Never",
        containers: [{ name: "hog", image: BUSYBOX_IMAGE, imagePullPolicy: "Never", command: ["sh", "-c", "tail /dev/zero"], resources: { limits: { memory: "24Mi" } } }],
      }),
    );
    const st = await srv.eventually("OOMKilled", () => getPod("hog")?.status?.containerStatuses?.[0]?.state?.terminated);
    assert.equal(st.reason, "OOMKilled");
    assert.equal(st.exitCode, 137);
    assert.equal(statusColumn("hog"), "OOMKilled");
  });

  it("waits in ContainerCreating with FailedMount when a ConfigMap volume is missing, and starts once it exists", async () => {
    apply(
      pod("needs-cfg", {
        volumes: [{ name: "cfg", configMap: { name: "app-config" } }],
        containers: [{ name: "app", image: BUSYBOX_IMAGE, imagePullPolicy: "Never", command: ["sh", "-c", "cat /cfg/greeting; sleep 3600"], volumeMounts: [{ name: "cfg", mountPath: "/cfg" }] }],
      }),
    );
    await srv.eventually("FailedMount", () => (events("needs-cfg").includes("FailedMount") ? true : undefined));
    assert.match(events("needs-cfg"), /FailedMount: MountVolume.SetUp failed for volume "cfg" : configmap "app-config" not found/);
    assert.equal(statusColumn("needs-cfg"), "ContainerCreating");
    ok(srv.kubectl(["create", "configmap", "app-config", "--from-literal=greeting=hi"]), "create configmap");
    await srv.eventually("the pod to run", () => (getPod("needs-cfg")?.status?.phase === "Running" ? true : undefined), 150_000);
    await srv.eventually("the mounted file in the log", () => (srv.kubectl(["logs", "needs-cfg"]).stdout === "hi" ? true : undefined));
  });

  it("stops a deleted pod's containers within its grace period and removes its namespace", async () => {
    apply(pod("short", { containers: [{ name: "app", image: BUSYBOX_IMAGE, imagePullPolicy: "Never", command: ["sleep", "3600"] }] }));
    await srv.eventually("short to run", () => (getPod("short")?.status?.phase === "Running" ? true : undefined));
    const before = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout.split("\n").filter((l) => l.startsWith(srv.netnsPrefix)).length;
    // sleep ignores SIGTERM as pid 1: the kill comes at the end of the 2 s grace period.
    ok(srv.kubectl(["delete", "pod", "short", "--wait=true", "--timeout=60s"]), "delete");
    await srv.eventually("its netns to go", () => {
      const now = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout.split("\n").filter((l) => l.startsWith(srv.netnsPrefix)).length;
      return now === before - 1 ? true : undefined;
    });
  });
});
