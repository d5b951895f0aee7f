import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findResource, type ResourceType } from "../../../api/resources.js";
import { notFound, StatusError } from "../../../machinery/status-error.js";
import type { KObject } from "../../registry/types.js";
import type { Operation } from "../admission.js";
import { LATEST, policyToEvaluate, v1 } from "./api.js";
import { Evaluator, forbiddenDetail } from "./evaluator.js";
import { type AdmissionAttributesWithWarnings, podSecurity } from "./pod-security.js";

const podsRes = findResource("", "v1", "pods")!;
const nsRes = findResource("", "v1", "namespaces")!;
const deployRes = findResource("apps", "v1", "deployments")!;
const cronRes = findResource("batch", "v1", "cronjobs")!;

const namespaces: Record<string, KObject> = {
  open: { metadata: { name: "open" } },
  base: { metadata: { name: "base", labels: { "pod-security.kubernetes.io/enforce": "baseline" } } },
  strict: { metadata: { name: "strict", labels: { "pod-security.kubernetes.io/enforce": "restricted" } } },
  warned: { metadata: { name: "warned", labels: { "pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/warn-version": "v1.30" } } },
  bad: { metadata: { name: "bad", labels: { "pod-security.kubernetes.io/enforce": "nope" } } },
};
const existingPods: KObject[] = [];

const plugin = podSecurity({
  namespaces: {
    async get(_ns, name) {
      const n = namespaces[name];
      if (!n) throw notFound({ group: "", resource: "namespaces" }, name);
      return n;
    },
  },
  pods: { list: async () => ({ items: existingPods }) },
});

function attrs(op: Operation, resource: ResourceType, ns: string, object: KObject, extra: Partial<AdmissionAttributesWithWarnings> = {}): AdmissionAttributesWithWarnings {
  return {
    operation: op,
    resource,
    subresource: "",
    namespace: ns,
    name: object.metadata?.name ?? "",
    object,
    user: { username: "alice", groups: ["system:authenticated"] },
    dryRun: false,
    warnings: [],
    ...extra,
  };
}

const plainPod = (name = "x"): KObject => ({ metadata: { name }, spec: { containers: [{ name: "c", image: "busybox" }] } });
const restrictedPod = (): KObject => ({
  metadata: { name: "ok" },
  spec: {
    securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
    containers: [{ name: "c", image: "busybox", securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } }],
  },
});

async function rejects(a: AdmissionAttributesWithWarnings, code: number, message: string): Promise<void> {
  await assert.rejects(
    async () => plugin.validate!(a),
    (err: unknown) => {
      assert.ok(err instanceof StatusError);
      assert.equal(err.status.code, code);
      assert.equal(err.status.message, message);
      return true;
    },
  );
}

const RESTRICTED_PLAIN =
  'allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), ' +
  'unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), ' +
  'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), ' +
  'seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")';

describe("PodSecurity admission", () => {
  it("rejects a pod violating the enforced level with upstream's message", async () => {
    await rejects(attrs("CREATE", podsRes, "strict", plainPod()), 403, `pods "x" is forbidden: violates PodSecurity "restricted:latest": ${RESTRICTED_PLAIN}`);
    await plugin.validate!(attrs("CREATE", podsRes, "strict", restrictedPod()));
    await plugin.validate!(attrs("CREATE", podsRes, "open", { metadata: { name: "p" }, spec: { hostNetwork: true, containers: [{ name: "c", securityContext: { privileged: true } }] } }));
  });

  it("enforces baseline: host namespaces, privileged, capabilities, hostPath, hostPort, sysctls, procMount, SELinux, AppArmor, seccomp", async () => {
    const pod: KObject = {
      metadata: { name: "b", annotations: { "container.apparmor.security.beta.kubernetes.io/c": "unconfined" } },
      spec: {
        hostPID: true,
        hostNetwork: true,
        securityContext: { sysctls: [{ name: "kernel.msgmax", value: "1" }, { name: "net.ipv4.tcp_rmem", value: "1" }], seLinuxOptions: { type: "spc_t", user: "u" } },
        volumes: [{ name: "root", hostPath: { path: "/" } }],
        initContainers: [{ name: "i", securityContext: { capabilities: { add: ["NET_ADMIN", "CHOWN", "SYS_ADMIN"] } } }],
        containers: [
          { name: "c", ports: [{ containerPort: 80, hostPort: 8080 }, { containerPort: 81, hostPort: 443 }], securityContext: { privileged: true, procMount: "Unmasked", seccompProfile: { type: "Unconfined" } } },
          { name: "d", securityContext: { privileged: true, appArmorProfile: { type: "Unconfined" } } },
        ],
      },
    };
    await rejects(
      attrs("CREATE", podsRes, "base", pod),
      403,
      'pods "b" is forbidden: violates PodSecurity "baseline:latest": ' +
        'forbidden AppArmor profiles (container "d" and annotation must not set AppArmor profile type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/c="unconfined""), ' +
        'non-default capabilities (container "i" must not include "NET_ADMIN", "SYS_ADMIN" in securityContext.capabilities.add), ' +
        "host namespaces (hostNetwork, hostPID), " +
        'hostPath volumes (volume "root"), ' +
        'hostPort (container "c" uses hostPorts 443, 8080), ' +
        'privileged (containers "c", "d" must not set securityContext.privileged=true), ' +
        'procMount (container "c" must not set securityContext.procMount to "Unmasked"), ' +
        'seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: type "spc_t"; user may not be set), ' +
        'seccompProfile (container "c" must not set securityContext.seccompProfile.type to "Unconfined"), ' +
        "forbidden sysctls (kernel.msgmax)",
    );
  });

  it("restricted replaces the baseline hostPath, capabilities and seccomp checks with its own", () => {
    const e = new Evaluator();
    const pod = {
      annotations: {},
      spec: {
        securityContext: { runAsNonRoot: true, runAsUser: 0, seccompProfile: { type: "Unconfined" } },
        volumes: [{ name: "h", hostPath: { path: "/" } }, { name: "n", nfs: { server: "s", path: "/" } }, { name: "e", emptyDir: {} }],
        containers: [{ name: "c", securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE", "SYS_TIME"] } } }],
      },
    };
    assert.equal(
      forbiddenDetail(e.evaluate({ level: "restricted", version: LATEST }, pod)),
      'unrestricted capabilities (container "c" must not include "SYS_TIME" in securityContext.capabilities.add), ' +
        'restricted volume types (volumes "h", "n" use restricted volume types "hostPath", "nfs"), ' +
        "runAsUser=0 (pod must not set runAsUser=0), " +
        'seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")',
    );
  });

  it("applies the checks of the version asked for", () => {
    const e = new Evaluator();
    const pod = { annotations: {}, spec: { securityContext: { sysctls: [{ name: "net.ipv4.tcp_keepalive_time" }] }, containers: [{ name: "c", securityContext: { runAsUser: 0 } }] } };
    assert.equal(e.evaluate({ level: "baseline", version: v1(28) }, pod).allowed, false);
    assert.equal(e.evaluate({ level: "baseline", version: v1(29) }, pod).allowed, true);
    // runAsUser=0 is a restricted violation only from 1.23, allowPrivilegeEscalation from 1.8.
    const restricted = (minor: number) => e.evaluate({ level: "restricted", version: v1(minor) }, pod).reasons;
    assert.ok(!restricted(22).includes("runAsUser=0"));
    assert.ok(restricted(23).includes("runAsUser=0"));
    assert.ok(!restricted(7).includes("allowPrivilegeEscalation != false"));
    // A Windows pod is exempt from the Linux-only restricted checks from 1.25.
    const win = { annotations: {}, spec: { os: { name: "windows" }, securityContext: { runAsNonRoot: true }, containers: [{ name: "c" }] } };
    assert.equal(e.evaluate({ level: "restricted", version: v1(25) }, win).allowed, true);
    assert.equal(e.evaluate({ level: "restricted", version: v1(24) }, win).allowed, false);
  });

  it("warns (never rejects) for the warn level, with the version in the message", async () => {
    const a = attrs("CREATE", podsRes, "warned", plainPod());
    await plugin.validate!(a);
    assert.deepEqual(a.warnings, [`would violate PodSecurity "restricted:v1.30": ${RESTRICTED_PLAIN}`]);
  });

  it("defaults warn to a stricter explicit enforce level and version", () => {
    const { policy } = policyToEvaluate({ "pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/enforce-version": "v1.31" });
    assert.deepEqual(policy.warn, { level: "baseline", version: v1(31) });
    assert.deepEqual(policy.audit.level, "privileged");
  });

  it("checks workload templates for warn only, never enforce", async () => {
    const deploy = (): KObject => ({ metadata: { name: "web" }, spec: { template: { metadata: {}, spec: plainPod().spec } } });
    const a = attrs("CREATE", deployRes, "strict", deploy());
    await plugin.validate!(a);
    assert.deepEqual(a.warnings, [`would violate PodSecurity "restricted:latest": ${RESTRICTED_PLAIN}`]);
    const cj = attrs("CREATE", cronRes, "warned", { metadata: { name: "cj" }, spec: { jobTemplate: { spec: { template: { spec: plainPod().spec } } } } });
    await plugin.validate!(cj);
    assert.equal(cj.warnings?.length, 1);
    const open = attrs("CREATE", deployRes, "open", deploy());
    await plugin.validate!(open);
    assert.deepEqual(open.warnings, []);
  });

  it("ignores status and other subresources, and updates that change no image", async () => {
    await plugin.validate!(attrs("UPDATE", podsRes, "strict", plainPod(), { subresource: "status", oldObject: plainPod() }));
    const relabelled = { ...plainPod(), metadata: { name: "x", labels: { a: "b" } } };
    await plugin.validate!(attrs("UPDATE", podsRes, "strict", relabelled, { oldObject: plainPod() }));
    const newImage: KObject = { metadata: { name: "x" }, spec: { containers: [{ name: "c", image: "other" }] } };
    await assert.rejects(async () => plugin.validate!(attrs("UPDATE", podsRes, "strict", newImage, { oldObject: plainPod() })), /violates PodSecurity/);
  });

  it("fails closed on a bad enforce label and answers 500 when the namespace cannot be read", async () => {
    await assert.rejects(async () => plugin.validate!(attrs("CREATE", podsRes, "bad", plainPod())), /violates PodSecurity "restricted:latest"/);
    await rejects(attrs("CREATE", podsRes, "missing", plainPod()), 500, 'Internal error occurred: failed to lookup namespace "missing"');
  });

  it("validates namespace labels as upstream", async () => {
    await rejects(
      attrs("CREATE", nsRes, "", { metadata: { name: "n", labels: { "pod-security.kubernetes.io/enforce": "strict" } } }),
      422,
      'Namespace "n" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted',
    );
    await rejects(
      attrs("UPDATE", nsRes, "", { metadata: { name: "n", labels: { "pod-security.kubernetes.io/warn-version": "1.30" } } }, { oldObject: { metadata: { name: "n" } } }),
      422,
      'Namespace "n" is invalid: metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: "1.30": must be "latest" or "v1.x"',
    );
  });

  it("dry-runs the namespace's pods when its enforce level tightens, naming the first pod and counting the rest", async () => {
    existingPods.length = 0;
    existingPods.push(plainPod("b"), plainPod("a"), plainPod("c"), restrictedPod(), { metadata: { name: "h" }, spec: { hostNetwork: true, containers: [] } });
    const a = attrs("UPDATE", nsRes, "", { metadata: { name: "n", labels: { "pod-security.kubernetes.io/enforce": "restricted" } } }, { oldObject: { metadata: { name: "n" } } });
    await plugin.validate!(a);
    assert.deepEqual(a.warnings, [
      'existing pods in namespace "n" violate the new PodSecurity enforce level "restricted:latest"',
      "a (and 2 other pods): allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile",
      "h: host namespaces",
    ]);
    // Relaxing the level, or keeping it, checks nothing.
    const relax = attrs("UPDATE", nsRes, "", { metadata: { name: "n", labels: { "pod-security.kubernetes.io/enforce": "baseline" } } }, { oldObject: a.object });
    await plugin.validate!(relax);
    assert.deepEqual(relax.warnings, []);
  });
});
