import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Container, EnvVar, Pod, Service } from "kubernetes-types/core/v1.js";
import { FakePodObjects } from "../volumes/fake-objects.js";
import { type EnvContext, expandCommandAndArgs, expandSubPathExpr, makeEnvironmentVariables } from "./env.js";
import { expand, mappingFuncFor } from "./env-expansion.js";
import { extractFieldPathAsString, formatMap } from "./env-fieldpath.js";

function pod(container: Partial<Container>, extra: Partial<Pod["spec"]> = {}): Pod {
  return {
    metadata: { name: "web-1", namespace: "ns", uid: "uid-1", labels: { app: "web", "x/y": "z" }, annotations: { note: 'a "q"\nb' } },
    spec: { nodeName: "node-a", serviceAccountName: "sa1", containers: [{ name: "app", image: "busybox", ...container }], ...extra },
  };
}

function ctx(objects = new FakePodObjects(), events: string[] = []): EnvContext {
  return {
    objects,
    facts: { podIPs: ["10.42.0.5", "fd00::5"], hostIPs: ["192.168.1.10"] },
    nodeAllocatable: { cpu: "4", memory: "8Gi", "ephemeral-storage": "100Gi" },
    warn: (reason, note) => events.push(`${reason}: ${note}`),
  };
}

async function envOf(p: Pod, c = ctx()): Promise<Record<string, string>> {
  const r = await makeEnvironmentVariables(p, p.spec!.containers[0]!, c);
  assert.ok(r.ok, r.ok ? "" : r.message);
  return Object.fromEntries(r.envs.map((e) => [e.key, e.value]));
}

async function errorOf(p: Pod, c = ctx()): Promise<string> {
  const r = await makeEnvironmentVariables(p, p.spec!.containers[0]!, c);
  assert.ok(!r.ok, "expected an error");
  return r.message;
}

describe("$(VAR) expansion (upstream expansion_test cases)", () => {
  const mapping = mappingFuncFor(
    new Map([
      ["VAR_A", "A"],
      ["VAR_B", "B"],
      ["VAR_C", "C"],
      ["VAR_REF", "$(VAR_A)"],
      ["VAR_EMPTY", ""],
    ]),
  );
  const cases: [string, string][] = [
    ["$(VAR_A)", "A"],
    ["___$(VAR_B)___", "___B___"],
    ["$(VAR_A)-$(VAR_A)", "A-A"],
    ["$(VAR_REF)", "$(VAR_A)"],
    ["$(VAR_EMPTY)", ""],
    ["$(UNKNOWN)", "$(UNKNOWN)"],
    ["$$(VAR_A)", "$(VAR_A)"],
    ["$$$(VAR_A)", "$A"],
    ["$$$$(VAR_A)", "$$(VAR_A)"],
    ["$(VAR_A", "$(VAR_A"],
    ["$VAR_A", "$VAR_A"],
    ["foo$", "foo$"],
    ["foo$()bar", "foo$()bar"],
    ["$(VAR_A)$(VAR_B)$(VAR_C)", "ABC"],
    ["f000-$$VAR_A", "f000-$VAR_A"],
    ["$(VAR_A)$", "A$"],
  ];
  for (const [input, want] of cases) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(want)}`, () => assert.equal(expand(input, mapping), want));
  }
});

describe("makeEnvironmentVariables", () => {
  it("expands values from earlier variables only, and keeps unknown references", async () => {
    const env: EnvVar[] = [
      { name: "A", value: "a" },
      { name: "B", value: "$(A)-$(C)" },
      { name: "C", value: "c" },
      { name: "D", value: "$$(A) $(A)" },
    ];
    assert.deepEqual(await envOf(pod({ env })), { A: "a", B: "a-$(C)", C: "c", D: "$(A) a" });
  });

  it("resolves fieldRef as upstream's podFieldSelectorRuntimeValue", async () => {
    const f = (name: string, fieldPath: string): EnvVar => ({ name, valueFrom: { fieldRef: { fieldPath } } });
    const got = await envOf(
      pod({
        env: [
          f("NAME", "metadata.name"),
          f("NS", "metadata.namespace"),
          f("UID", "metadata.uid"),
          f("LABEL", "metadata.labels['app']"),
          f("LABEL2", "metadata.labels['x/y']"),
          f("MISSING", "metadata.labels['nope']"),
          f("NOTE", "metadata.annotations['note']"),
          f("NODE", "spec.nodeName"),
          f("SA", "spec.serviceAccountName"),
          f("HOST", "status.hostIP"),
          f("HOSTS", "status.hostIPs"),
          f("IP", "status.podIP"),
          f("IPS", "status.podIPs"),
          f("LEGACY", "spec.host"),
        ],
      }),
    );
    assert.deepEqual(got, {
      NAME: "web-1",
      NS: "ns",
      UID: "uid-1",
      LABEL: "web",
      LABEL2: "z",
      MISSING: "",
      NOTE: 'a "q"\nb',
      NODE: "node-a",
      SA: "sa1",
      HOST: "192.168.1.10",
      HOSTS: "192.168.1.10",
      IP: "10.42.0.5",
      IPS: "10.42.0.5,fd00::5",
      LEGACY: "node-a",
    });
  });

  it("fails fieldRefs upstream refuses, with its messages", async () => {
    const one = (fieldPath: string, apiVersion?: string) => pod({ env: [{ name: "X", valueFrom: { fieldRef: { fieldPath, apiVersion } } }] });
    assert.equal(await errorOf(one("status.phase")), "unsupported fieldPath: status.phase");
    assert.equal(await errorOf(one("spec.containers")), "field label not supported: spec.containers");
    assert.equal(await errorOf(one("metadata.name", "v2")), "unsupported pod version: v2");
    assert.equal(await errorOf(one("spec.nodeName['x']")), "field label does not support subscript: spec.nodeName['x']");
    assert.match(await errorOf(one("metadata.labels['-bad-']")), /^invalid key subscript in metadata\.labels\['-bad-'\]: name part must consist of alphanumeric characters/);
  });

  it("resolves resourceFieldRef with divisors, limits defaulting to node allocatable", async () => {
    const r = (name: string, resource: string, divisor?: string, containerName?: string): EnvVar => ({ name, valueFrom: { resourceFieldRef: { resource, divisor, containerName } } });
    const p = pod({
      resources: { limits: { cpu: "250m", memory: "64Mi" }, requests: { cpu: "100m", memory: "1000" } },
      env: [
        r("CPU_LIMIT", "limits.cpu"),
        r("CPU_LIMIT_M", "limits.cpu", "1m"),
        r("CPU_REQ", "requests.cpu", "1m"),
        r("MEM_LIMIT", "limits.memory"),
        r("MEM_LIMIT_MI", "limits.memory", "1Mi"),
        r("MEM_REQ_KI", "requests.memory", "1Ki"),
        r("EPH_LIMIT_GI", "limits.ephemeral-storage", "1Gi"),
        r("EPH_REQ", "requests.ephemeral-storage"),
        r("OTHER_CPU", "limits.cpu", "1m", "other"),
      ],
    });
    p.spec!.containers.push({ name: "other", image: "busybox" });
    assert.deepEqual(await envOf(p), {
      CPU_LIMIT: "1",
      CPU_LIMIT_M: "250",
      CPU_REQ: "100",
      MEM_LIMIT: String(64 * 1024 * 1024),
      MEM_LIMIT_MI: "64",
      MEM_REQ_KI: "1",
      EPH_LIMIT_GI: "100",
      EPH_REQ: "0",
      OTHER_CPU: "4000",
    });
    const bad = pod({ env: [r("X", "limits.gpu")] });
    assert.equal(await errorOf(bad), "unsupported container resource : limits.gpu");
    assert.equal(await errorOf(pod({ env: [r("X", "limits.cpu", undefined, "ghost")] })), "container ghost not found");
  });

  it("reads configMapKeyRef and secretKeyRef, optional ones skipped when missing", async () => {
    const o = new FakePodObjects();
    o.addConfigMap("ns", "cfg", { mode: "fast" });
    o.addSecret("ns", "creds", { password: "s3cr3t" });
    const p = pod({
      env: [
        { name: "MODE", valueFrom: { configMapKeyRef: { name: "cfg", key: "mode" } } },
        { name: "PW", valueFrom: { secretKeyRef: { name: "creds", key: "password" } } },
        { name: "OPT_KEY", valueFrom: { configMapKeyRef: { name: "cfg", key: "nope", optional: true } } },
        { name: "OPT_CM", valueFrom: { configMapKeyRef: { name: "gone", key: "k", optional: true } } },
        { name: "OPT_SECRET", valueFrom: { secretKeyRef: { name: "gone", key: "k", optional: true } } },
        { name: "REF", value: "$(MODE)/$(OPT_KEY)" },
      ],
    });
    assert.deepEqual(await envOf(p, ctx(o)), { MODE: "fast", PW: "s3cr3t", REF: "fast/$(OPT_KEY)" });
  });

  it("fails on missing non-optional sources with upstream's messages", async () => {
    const o = new FakePodObjects();
    o.addConfigMap("ns", "cfg", { a: "1" });
    o.addSecret("ns", "creds", { a: "1" });
    const cases: [EnvVar, string][] = [
      [{ name: "X", valueFrom: { configMapKeyRef: { name: "x", key: "k" } } }, 'configmap "x" not found'],
      [{ name: "X", valueFrom: { configMapKeyRef: { name: "cfg", key: "k" } } }, "couldn't find key k in ConfigMap ns/cfg"],
      [{ name: "X", valueFrom: { secretKeyRef: { name: "x", key: "k" } } }, 'secret "x" not found'],
      [{ name: "X", valueFrom: { secretKeyRef: { name: "creds", key: "k" } } }, "couldn't find key k in Secret ns/creds"],
    ];
    for (const [e, want] of cases) assert.equal(await errorOf(pod({ env: [e] }), ctx(o)), want);
    assert.equal(await errorOf(pod({ envFrom: [{ configMapRef: { name: "x" } }] }), ctx(o)), 'configmap "x" not found');
    assert.equal(await errorOf(pod({ envFrom: [{ secretRef: { name: "x" } }] }), ctx(o)), 'secret "x" not found');
    const noClient: EnvContext = { ...ctx(o), objects: undefined };
    assert.equal(await errorOf(pod({ env: [cases[0]![0]] }), noClient), "couldn't get configMap ns/x, no kubeClient defined");
  });

  it("applies envFrom first with prefixes, env overriding, invalid names skipped with an event", async () => {
    const o = new FakePodObjects();
    o.addConfigMap("ns", "cfg", { A: "from-cm", B: "b", "bad=key": "x", "ключ": "y" });
    o.addSecret("ns", "creds", { TOKEN: "t" });
    const events: string[] = [];
    const p = pod({
      envFrom: [{ configMapRef: { name: "cfg" } }, { secretRef: { name: "creds" }, prefix: "S_" }, { configMapRef: { name: "gone", optional: true } }],
      env: [
        { name: "A", value: "from-env" },
        { name: "C", value: "$(B)$(S_TOKEN)" },
      ],
    });
    assert.deepEqual(await envOf(p, ctx(o, events)), { A: "from-env", B: "b", S_TOKEN: "t", C: "bt" });
    assert.deepEqual(events, [
      "InvalidEnvironmentVariableNames: Keys [bad=key, ключ] from the EnvFrom configMap ns/cfg were skipped since they are considered invalid environment variable names.",
    ]);
  });

  it("injects Service variables as upstream's FromServices, env winning over them", async () => {
    const o = new FakePodObjects();
    const svc = (ns: string, name: string, clusterIP: string, ports: Service["spec"] extends infer S ? (S extends { ports?: infer P } ? P : never) : never): Service => ({
      metadata: { namespace: ns, name },
      spec: { clusterIP, ports },
    });
    o.services.push(
      svc("default", "kubernetes", "10.43.0.1", [{ name: "https", port: 443, protocol: "TCP" }]),
      svc("default", "other-default", "10.43.0.9", [{ port: 80 }]),
      svc("ns", "redis-primary", "10.43.0.20", [
        { port: 6379, protocol: "TCP" },
        { name: "metrics", port: 9121, protocol: "UDP" },
      ]),
      svc("ns", "headless", "None", [{ port: 80 }]),
      svc("ns", "v6", "fd00::20", [{ port: 80 }]),
    );
    const p = pod({ env: [{ name: "REDIS_PRIMARY_SERVICE_HOST", value: "mine" }, { name: "URL", value: "$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)" }] });
    const got = await envOf(p, ctx(o));
    assert.deepEqual(got, {
      REDIS_PRIMARY_SERVICE_HOST: "mine",
      URL: "10.43.0.1:443",
      KUBERNETES_SERVICE_HOST: "10.43.0.1",
      KUBERNETES_SERVICE_PORT: "443",
      KUBERNETES_SERVICE_PORT_HTTPS: "443",
      KUBERNETES_PORT: "tcp://10.43.0.1:443",
      KUBERNETES_PORT_443_TCP: "tcp://10.43.0.1:443",
      KUBERNETES_PORT_443_TCP_PROTO: "tcp",
      KUBERNETES_PORT_443_TCP_PORT: "443",
      KUBERNETES_PORT_443_TCP_ADDR: "10.43.0.1",
      REDIS_PRIMARY_SERVICE_PORT: "6379",
      REDIS_PRIMARY_SERVICE_PORT_METRICS: "9121",
      REDIS_PRIMARY_PORT: "tcp://10.43.0.20:6379",
      REDIS_PRIMARY_PORT_6379_TCP: "tcp://10.43.0.20:6379",
      REDIS_PRIMARY_PORT_6379_TCP_PROTO: "tcp",
      REDIS_PRIMARY_PORT_6379_TCP_PORT: "6379",
      REDIS_PRIMARY_PORT_6379_TCP_ADDR: "10.43.0.20",
      REDIS_PRIMARY_PORT_9121_UDP: "udp://10.43.0.20:9121",
      REDIS_PRIMARY_PORT_9121_UDP_PROTO: "udp",
      REDIS_PRIMARY_PORT_9121_UDP_PORT: "9121",
      REDIS_PRIMARY_PORT_9121_UDP_ADDR: "10.43.0.20",
      V6_SERVICE_HOST: "fd00::20",
      V6_SERVICE_PORT: "80",
      V6_PORT: "tcp://[fd00::20]:80",
      V6_PORT_80_TCP: "tcp://[fd00::20]:80",
      V6_PORT_80_TCP_PROTO: "tcp",
      V6_PORT_80_TCP_PORT: "80",
      V6_PORT_80_TCP_ADDR: "fd00::20",
    });
    // Without service links only the API server's variables come (upstream injects those always).
    const quiet = await envOf(pod({}, { enableServiceLinks: false }), ctx(o));
    assert.deepEqual(Object.keys(quiet).sort(), Object.keys(got).filter((k) => k.startsWith("KUBERNETES_")).sort());
  });

  it("expands command, args and subPathExpr from the final environment", () => {
    const envs = [
      { key: "A", value: "x" },
      { key: "EMPTY", value: "" },
    ];
    const c: Container = { name: "c", command: ["echo", "$(A)", "$$(A)"], args: ["$(B)"] };
    assert.deepEqual(expandCommandAndArgs(c, envs), { command: ["echo", "x", "$(A)"], args: ["$(B)"] });
    assert.deepEqual(expandSubPathExpr("logs/$(A)", envs), { ok: true, value: "logs/x" });
    assert.deepEqual(expandSubPathExpr("$(EMPTY)/$(NOPE)/$(A)", envs), { ok: false, message: "missing value for EMPTY, NOPE" });
  });
});

describe("downward API fields", () => {
  it("formats whole label and annotation maps as upstream's FormatMap", () => {
    assert.equal(formatMap({ b: "2", a: 'x"y' }), 'a="x\\"y"\nb="2"');
    const p = pod({});
    const r = extractFieldPathAsString(p, "metadata.annotations");
    assert.deepEqual(r, { ok: true, value: 'note="a \\"q\\"\\nb"' });
  });
});
