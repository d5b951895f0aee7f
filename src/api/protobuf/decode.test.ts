import assert from "node:assert/strict";
import { describe, it } from "node:test";
import protobuf from "protobufjs";
import schemasJson from "./schemas.generated.json" with { type: "json" };
import { decodeMessage } from "./decode.js";
import { decodeKubernetesProtobuf, UnknownKindError } from "./envelope.js";
import { messageForKind } from "./schemas.js";
import { goDuration } from "./well-known.js";
import { ProtobufError } from "./wire.js";

type RawField = [number, string, string, string?, string?];
const MESSAGES = (schemasJson as unknown as { messages: Record<string, RawField[]> }).messages;

/** A protobufjs root with every generated schema, so tests encode exactly as the schema says a client would. */
const root = (() => {
  const r = new protobuf.Root();
  for (const [full, fields] of Object.entries(MESSAGES)) {
    const dot = full.lastIndexOf(".");
    const type = new protobuf.Type(full.slice(dot + 1));
    for (const [no, name, t, flags = "", mapKey] of fields) {
      const ref = t.includes(".") ? `.${t}` : t;
      // JSON names are not always identifiers; protobufjs only needs them unique.
      const id = name.replace(/[^A-Za-z0-9_]/g, "_");
      if (flags.includes("m")) type.add(new protobuf.MapField(id, no, mapKey!, ref));
      else type.add(new protobuf.Field(id, no, ref, flags.includes("r") ? "repeated" : "optional"));
    }
    (r.lookup(full.slice(0, dot)) as protobuf.Namespace | null ?? r.define(full.slice(0, dot))).add(type);
  }
  r.resolveAll();
  return r;
})();

const META = "k8s.io.apimachinery.pkg.apis.meta.v1";
const encode = (type: string, value: Record<string, unknown>) => root.lookupType(type).encode(root.lookupType(type).fromObject(value)).finish();

/** The `k8s\0` envelope around a message, as client-go writes it. */
function envelope(apiVersion: string, kind: string, type: string, value: Record<string, unknown>): Buffer {
  const unknown = encode("k8s.io.apimachinery.pkg.runtime.Unknown", { typeMeta: { apiVersion, kind }, raw: encode(type, value), contentEncoding: "", contentType: "" });
  return Buffer.concat([Buffer.from("k8s\0", "binary"), unknown]);
}

/** ObjectMeta as gogo writes it: every non-pointer scalar present, zero or not; creationTimestamp an empty Time. */
const meta = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  generateName: "",
  namespace: "ns1",
  selfLink: "",
  uid: "",
  resourceVersion: "",
  generation: 0,
  creationTimestamp: {},
  ...extra,
});

describe("protobuf schemas", () => {
  it("maps apiVersion + kind to the message of the right group", () => {
    assert.equal(messageForKind("v1", "Pod"), "k8s.io.api.core.v1.Pod");
    assert.equal(messageForKind("apps/v1", "Deployment"), "k8s.io.api.apps.v1.Deployment");
    assert.equal(messageForKind("rbac.authorization.k8s.io/v1", "Role"), "k8s.io.api.rbac.v1.Role");
    assert.equal(messageForKind("events.k8s.io/v1", "Event"), "k8s.io.api.events.v1.Event");
    assert.equal(messageForKind("v1", "Event"), "k8s.io.api.core.v1.Event");
    assert.equal(messageForKind("v1", "DeleteOptions"), `${META}.DeleteOptions`);
    assert.equal(messageForKind("meta.k8s.io/v1", "DeleteOptions"), `${META}.DeleteOptions`);
    assert.equal(messageForKind("apps/v1", "Pod"), undefined);
    assert.equal(messageForKind("v1", "NoSuchKind"), undefined);
  });
});

describe("protobuf decoding", () => {
  it("decodes a Pod with quantities, int-or-strings, times, maps, inline structs and pointer zeros", () => {
    const body = envelope("v1", "Pod", "k8s.io.api.core.v1.Pod", {
      metadata: meta("p1", { labels: { app: "web" }, deletionTimestamp: { seconds: 1136214245, nanos: 0 }, deletionGracePeriodSeconds: 0 }),
      spec: {
        containers: [
          {
            name: "c",
            image: "busybox",
            workingDir: "",
            stdin: false,
            resources: { limits: { cpu: { string: "500m" }, memory: { string: "64Mi" } }, requests: { cpu: {} } },
            ports: [{ name: "", hostPort: 0, containerPort: 0, protocol: "TCP" }],
            livenessProbe: { handler: { httpGet: { path: "/", port: { type: 1, intVal: 0, strVal: "http" }, host: "" } }, initialDelaySeconds: 0, terminationGracePeriodSeconds: 0 },
            readinessProbe: { handler: { tcpSocket: { port: { type: 0, intVal: 8080, strVal: "" }, host: "" } } },
          },
        ],
        volumes: [{ name: "v", volumeSource: { configMap: { localObjectReference: { name: "cm" }, defaultMode: 420, optional: false } } }],
        restartPolicy: "",
        terminationGracePeriodSeconds: 0,
        hostNetwork: false,
        priority: 0,
        nodeSelector: { "kubernetes.io/os": "linux" },
      },
      status: { phase: "", podIP: "" },
    });
    assert.deepEqual(decodeKubernetesProtobuf(body), {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p1", namespace: "ns1", creationTimestamp: null, labels: { app: "web" }, deletionTimestamp: "2006-01-02T15:04:05Z", deletionGracePeriodSeconds: 0 },
      spec: {
        containers: [
          {
            name: "c",
            image: "busybox",
            resources: { limits: { cpu: "500m", memory: "64Mi" }, requests: { cpu: "0" } },
            // containerPort has no omitempty: its zero stays, as Go's JSON writes it.
            ports: [{ containerPort: 0, protocol: "TCP" }],
            livenessProbe: { httpGet: { path: "/", port: "http" }, terminationGracePeriodSeconds: 0 },
            readinessProbe: { tcpSocket: { port: 8080 } },
          },
        ],
        volumes: [{ name: "v", configMap: { name: "cm", defaultMode: 420, optional: false } }],
        terminationGracePeriodSeconds: 0,
        priority: 0,
        nodeSelector: { "kubernetes.io/os": "linux" },
      },
      status: {},
    });
  });

  it("decodes bytes as base64 (Secret data) and keeps a false pointer bool", () => {
    const body = envelope("v1", "Secret", "k8s.io.api.core.v1.Secret", {
      metadata: meta("s1"),
      data: { a: Buffer.from("b"), bin: Buffer.from([0, 255]) },
      stringData: {},
      type: "Opaque",
      immutable: false,
    });
    assert.deepEqual(decodeKubernetesProtobuf(body), {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "s1", namespace: "ns1", creationTimestamp: null },
      data: { a: "Yg==", bin: "AP8=" },
      type: "Opaque",
      immutable: false,
    });
  });

  it("decodes a RawExtension as its embedded JSON (ControllerRevision)", () => {
    const data = { spec: { template: { metadata: { labels: { a: "b" } } } } };
    const body = envelope("apps/v1", "ControllerRevision", "k8s.io.api.apps.v1.ControllerRevision", {
      metadata: meta("cr1"),
      data: { raw: Buffer.from(JSON.stringify(data)) },
      revision: 0,
    });
    // revision has no omitempty: 0 stays.
    assert.deepEqual(decodeKubernetesProtobuf(body), {
      apiVersion: "apps/v1",
      kind: "ControllerRevision",
      metadata: { name: "cr1", namespace: "ns1", creationTimestamp: null },
      data,
      revision: 0,
    });
  });

  it("keeps pointer zeros and drops non-pointer zeros (Deployment, Job)", () => {
    const dep = decodeKubernetesProtobuf(
      envelope("apps/v1", "Deployment", "k8s.io.api.apps.v1.Deployment", {
        metadata: meta("d"),
        spec: { replicas: 0, minReadySeconds: 0, paused: false, revisionHistoryLimit: 0, strategy: { type: "", rollingUpdate: { maxSurge: { type: 1, intVal: 0, strVal: "25%" }, maxUnavailable: { type: 0, intVal: 0, strVal: "" } } }, template: { metadata: meta("") , spec: {} } },
        status: { replicas: 0, observedGeneration: 0 },
      }),
    );
    assert.deepEqual(dep.spec, {
      replicas: 0,
      revisionHistoryLimit: 0,
      strategy: { rollingUpdate: { maxSurge: "25%", maxUnavailable: 0 } },
      template: { metadata: { namespace: "ns1", creationTimestamp: null }, spec: { containers: null } },
    });
    assert.deepEqual(dep.status, {});
    const job = decodeKubernetesProtobuf(
      envelope("batch/v1", "Job", "k8s.io.api.batch.v1.Job", { metadata: meta("j"), spec: { backoffLimit: 0, suspend: false, completionMode: "NonIndexed" } }),
    );
    assert.deepEqual((job as { spec: unknown }).spec, { backoffLimit: 0, suspend: false, completionMode: "NonIndexed" });
  });

  it("decodes MicroTime (Lease) and Duration as Go prints them", () => {
    const lease = decodeKubernetesProtobuf(
      envelope("coordination.k8s.io/v1", "Lease", "k8s.io.api.coordination.v1.Lease", {
        metadata: meta("l"),
        spec: { holderIdentity: "", leaseDurationSeconds: 15, renewTime: { seconds: 1136214245, nanos: 123456789 } },
      }),
    );
    assert.deepEqual((lease as { spec: unknown }).spec, { holderIdentity: "", leaseDurationSeconds: 15, renewTime: "2006-01-02T15:04:05.123456Z" });
    assert.equal(goDuration(0n), "0s");
    assert.equal(goDuration(1_500n), "1.5µs");
    assert.equal(goDuration(150_000_000n), "150ms");
    assert.equal(goDuration(3_600_000_000_000n), "1h0m0s");
    assert.equal(goDuration(90_500_000_000n), "1m30.5s");
    assert.equal(goDuration(-2_000_000_000n), "-2s");
    // meta.Duration {duration = 1}: not in any served kind's schema, but decoded all the same.
    assert.deepEqual(decodeMessage(`${META}.Duration`, protobuf.Writer.create().uint32(8).int64(300_000_000_000).finish()), "5m0s");
  });

  it("decodes packed and unpacked repeated scalars and negative int32s", () => {
    const w = protobuf.Writer.create();
    // PodSecurityContext.supplementalGroups: repeated int64, field 4, once packed and once not.
    w.uint32((4 << 3) | 2).fork().int64(1).int64(2).ldelim();
    w.uint32((4 << 3) | 0).int64(3);
    w.uint32((2 << 3) | 0).int64(-5); // runAsUser (pointer, field 2)
    w.uint32((5 << 3) | 0).int64(0); // fsGroup (pointer, field 5): a zero that stays
    assert.deepEqual(decodeMessage("k8s.io.api.core.v1.PodSecurityContext", w.finish()), { supplementalGroups: [1, 2, 3], runAsUser: -5, fsGroup: 0 });
  });

  it("decodes what kubectl 1.33 sends for create token (the TokenRequest it replaced)", () => {
    // `create token default --duration=20m --audience=a1 --audience=a2 --bound-object-kind=Pod --bound-object-name=pp`
    const body = Buffer.from(
      "6b3873000a280a1861757468656e7469636174696f6e2e6b38732e696f2f7631120c546f6b656e526571756573741236" +
        "0a100a0012001a0022002a00320038004200121c0a0261310a0261321a0f0a03506f64120276311a027070220020b0091a040a0012001a002200",
      "hex",
    );
    assert.deepEqual(decodeKubernetesProtobuf(body), {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      metadata: { creationTimestamp: null },
      spec: { audiences: ["a1", "a2"], boundObjectRef: { kind: "Pod", apiVersion: "v1", name: "pp" }, expirationSeconds: 1200 },
      status: { token: "", expirationTimestamp: null },
    });
  });

  it("refuses malformed input and unknown kinds", () => {
    const good = envelope("v1", "ConfigMap", "k8s.io.api.core.v1.ConfigMap", { metadata: meta("c"), data: { a: "b" } });
    assert.throws(() => decodeKubernetesProtobuf(Buffer.from("{}")), ProtobufError);
    assert.throws(() => decodeKubernetesProtobuf(good.subarray(0, good.length - 3)), ProtobufError);
    assert.throws(() => decodeKubernetesProtobuf(Buffer.from([0x6b, 0x38, 0x73, 0, 0x0f])), ProtobufError);
    assert.throws(() => decodeKubernetesProtobuf(envelope("v1", "Nope", "k8s.io.api.core.v1.ConfigMap", {})), UnknownKindError);
    // A varint where the schema says string (ObjectMeta.name).
    const raw = Buffer.from([0x0a, 0x02, 0x08, 0x01]);
    const bad = Buffer.concat([Buffer.from("k8s\0", "binary"), encode("k8s.io.apimachinery.pkg.runtime.Unknown", { typeMeta: { apiVersion: "v1", kind: "Namespace" }, raw })]);
    assert.throws(() => decodeKubernetesProtobuf(bad), /field name \(1\): wire type 0/);
    // Hostile nesting (envelopes inside RawExtensions) is refused, not a stack overflow.
    let deep = envelope("apps/v1", "ControllerRevision", "k8s.io.api.apps.v1.ControllerRevision", {});
    for (let i = 0; i < 300; i++) deep = envelope("apps/v1", "ControllerRevision", "k8s.io.api.apps.v1.ControllerRevision", { data: { raw: deep } });
    assert.throws(() => decodeKubernetesProtobuf(deep), /nesting exceeds/);
  });
});
