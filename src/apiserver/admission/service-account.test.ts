import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BUILTIN_RESOURCES } from "../../api/resources.js";
import { StatusError } from "../../machinery/status-error.js";
import type { KObject } from "../registry/types.js";
import type { AdmissionAttributes, Operation } from "./admission.js";
import { serviceAccountAdmission, tokenVolumeSource } from "./service-account.js";

const PODS = BUILTIN_RESOURCES.find((r) => r.group === "" && r.plural === "pods")!;

function plugin(sas: KObject[], lookups: string[] = []) {
  const byKey = new Map(sas.map((s) => [`${s.metadata?.namespace}/${s.metadata?.name}`, s]));
  return serviceAccountAdmission({
    serviceAccounts: {
      find: async (ns, name) => {
        lookups.push(`${ns}/${name}`);
        return byKey.get(`${ns}/${name}`);
      },
    },
    sleep: async () => {},
    randomSuffix: () => "abcde",
  });
}

function attrs(pod: KObject, operation: Operation = "CREATE", subresource = ""): AdmissionAttributes {
  return { operation, resource: PODS, subresource, namespace: "ns1", name: pod.metadata?.name ?? "", object: pod, user: { username: "u", groups: [] }, dryRun: false };
}

async function run(p: ReturnType<typeof plugin>, a: AdmissionAttributes): Promise<void> {
  await p.admit?.(a);
  await p.validate?.(a);
}

async function refusal(p: ReturnType<typeof plugin>, a: AdmissionAttributes): Promise<string> {
  try {
    await run(p, a);
  } catch (err) {
    assert.ok(err instanceof StatusError);
    assert.equal(err.status.code, 403);
    return err.status.message ?? "";
  }
  assert.fail("admitted");
}

const sa = (name: string, extra: Record<string, unknown> = {}): KObject => ({ metadata: { name, namespace: "ns1", uid: `${name}-uid` }, ...extra }) as KObject;
const pod = (spec: Record<string, unknown>, meta: Record<string, unknown> = { name: "p" }): KObject => ({ metadata: meta, spec }) as KObject;

describe("ServiceAccount admission", () => {
  it("defaults serviceAccountName and mounts the kube-api-access volume in every init and app container", async () => {
    const p = pod({ initContainers: [{ name: "i" }], containers: [{ name: "a" }, { name: "b", volumeMounts: [{ name: "x", mountPath: "/x" }] }], ephemeralContainers: [{ name: "e" }] });
    await run(plugin([sa("default")]), attrs(p));
    const spec = p.spec as Record<string, never>;
    assert.equal(spec.serviceAccountName, "default");
    assert.deepEqual(spec.volumes, [{ name: "kube-api-access-abcde", projected: tokenVolumeSource() }]);
    const mount = { name: "kube-api-access-abcde", readOnly: true, mountPath: "/var/run/secrets/kubernetes.io/serviceaccount" };
    assert.deepEqual((spec.initContainers as Record<string, unknown>[])[0]!.volumeMounts, [mount]);
    assert.deepEqual((spec.containers as Record<string, unknown>[])[0]!.volumeMounts, [mount]);
    assert.deepEqual((spec.containers as Record<string, unknown>[])[1]!.volumeMounts, [{ name: "x", mountPath: "/x" }, mount]);
    assert.equal((spec.ephemeralContainers as Record<string, unknown>[])[0]!.volumeMounts, undefined);
    assert.deepEqual(tokenVolumeSource(), {
      defaultMode: 420,
      sources: [
        { serviceAccountToken: { path: "token", expirationSeconds: 3607 } },
        { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
        { downwardAPI: { items: [{ path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } }] } },
      ],
    });
  });

  it("leaves containers that mount something at the token path, and reuses an existing kube-api-access volume", async () => {
    const p = pod({
      volumes: [{ name: "kube-api-access-zzzzz", projected: { sources: [] } }],
      containers: [{ name: "a", volumeMounts: [{ name: "mine", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount" }] }, { name: "b" }],
    });
    await run(plugin([sa("default")]), attrs(p));
    const spec = p.spec as Record<string, Record<string, unknown>[]>;
    assert.equal(spec.volumes!.length, 1);
    assert.deepEqual(spec.containers![0]!.volumeMounts, [{ name: "mine", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount" }]);
    assert.equal((spec.containers![1]!.volumeMounts as Record<string, unknown>[])[0]!.name, "kube-api-access-zzzzz");
  });

  it("does not mount when the pod or (failing that) the ServiceAccount says automountServiceAccountToken: false", async () => {
    const p1 = pod({ automountServiceAccountToken: false, containers: [{ name: "a" }] });
    await run(plugin([sa("default")]), attrs(p1));
    assert.equal((p1.spec as Record<string, unknown>).volumes, undefined);
    const p2 = pod({ serviceAccountName: "quiet", containers: [{ name: "a" }] });
    await run(plugin([sa("quiet", { automountServiceAccountToken: false })]), attrs(p2));
    assert.equal((p2.spec as Record<string, unknown>).volumes, undefined);
    const p3 = pod({ serviceAccountName: "quiet", automountServiceAccountToken: true, containers: [{ name: "a" }] });
    await run(plugin([sa("quiet", { automountServiceAccountToken: false })]), attrs(p3));
    assert.equal(((p3.spec as Record<string, unknown>).volumes as unknown[]).length, 1);
  });

  it("copies the ServiceAccount's imagePullSecrets to a pod without any", async () => {
    const p = pod({ serviceAccountName: "puller", containers: [{ name: "a" }] });
    await run(plugin([sa("puller", { imagePullSecrets: [{ name: "reg" }] })]), attrs(p));
    assert.deepEqual((p.spec as Record<string, unknown>).imagePullSecrets, [{ name: "reg" }]);
  });

  it("refuses a pod whose ServiceAccount does not exist, retrying only for the default one", async () => {
    const lookups: string[] = [];
    const msg = await refusal(plugin([], lookups), attrs(pod({ serviceAccountName: "ghost", containers: [{ name: "a" }] })));
    assert.equal(msg, 'pods "p" is forbidden: error looking up service account ns1/ghost: serviceaccount "ghost" not found');
    assert.equal(lookups.length, 1);
    lookups.length = 0;
    const msg2 = await refusal(plugin([], lookups), attrs(pod({ containers: [{ name: "a" }] }, { generateName: "web-" })));
    assert.equal(msg2, 'pods "web-" is forbidden: error looking up service account ns1/default: serviceaccount "default" not found');
    assert.equal(lookups.length, 10);
  });

  it("keeps mirror pods as written and refuses ServiceAccounts, Secrets and token projections in them", async () => {
    const mirror = { name: "m", annotations: { "kubernetes.io/config.mirror": "x" } };
    const ok = pod({ containers: [{ name: "a" }] }, mirror);
    await run(plugin([sa("default")]), attrs(ok));
    assert.equal((ok.spec as Record<string, unknown>).serviceAccountName, undefined);
    assert.match(await refusal(plugin([sa("default")]), attrs(pod({ serviceAccountName: "default" }, mirror))), /a mirror pod may not reference service accounts$/);
    assert.match(
      await refusal(plugin([]), attrs(pod({ containers: [{ name: "a", env: [{ name: "E", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }] }] }, mirror))),
      /a mirror pod may not reference secrets$/,
    );
    assert.match(
      await refusal(plugin([]), attrs(pod({ volumes: [{ name: "t", projected: { sources: [{ serviceAccountToken: { path: "t" } }] } }] }, mirror))),
      /a mirror pod may not use ServiceAccountToken volume projections$/,
    );
  });

  it("enforces mountable secrets when the ServiceAccount asks for it", async () => {
    const strict = sa("strict", { metadata: { name: "strict", namespace: "ns1", annotations: { "kubernetes.io/enforce-mountable-secrets": "true" } }, secrets: [{ name: "ok" }] });
    const p = plugin([strict]);
    await run(p, attrs(pod({ serviceAccountName: "strict", volumes: [{ name: "v", secret: { secretName: "ok" } }], containers: [{ name: "a" }] })));
    assert.equal(
      await refusal(p, attrs(pod({ serviceAccountName: "strict", volumes: [{ name: "v", secret: { secretName: "nope" } }], containers: [{ name: "a" }] }))),
      'pods "p" is forbidden: volume with secret.secretName="nope" is not allowed because service account strict does not reference that secret',
    );
    assert.equal(
      await refusal(p, attrs(pod({ serviceAccountName: "strict", containers: [{ name: "a", envFrom: [{ secretRef: { name: "nope" } }] }] }))),
      'pods "p" is forbidden: container a with envFrom referencing secret.secretName="nope" is not allowed because service account strict does not reference that secret',
    );
    assert.equal(
      await refusal(p, attrs(pod({ serviceAccountName: "strict", imagePullSecrets: [{ name: "reg" }], containers: [{ name: "a" }] }))),
      'pods "p" is forbidden: imagePullSecrets[0].name="reg" is not allowed because service account strict does not reference that imagePullSecret',
    );
  });

  it("leaves updates, subresources and other resources alone", async () => {
    const lookups: string[] = [];
    const p = plugin([], lookups);
    await run(p, attrs(pod({ containers: [{ name: "a" }] }), "UPDATE"));
    await run(p, attrs(pod({ containers: [{ name: "a" }] }), "CREATE", "status"));
    await run(p, { ...attrs(pod({})), resource: BUILTIN_RESOURCES.find((r) => r.plural === "configmaps")! });
    assert.deepEqual(lookups, []);
  });
});
