import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Container, Pod, PodStatus } from "kubernetes-types/core/v1.js";
import type { PodSandboxStatus } from "../../runtime/types.js";
import type { RuntimeContainer, RuntimePodStatus } from "../pod/runtime-pod-status.js";
import { generateAPIPodStatus, getPhase, normalizeStatus, type ReasonEntry, rfc3339 } from "./generate.js";

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);

function pod(opts: { containers?: Container[]; initContainers?: Container[]; restartPolicy?: string; deleted?: boolean } = {}): Pod {
  return {
    metadata: { name: "p", namespace: "ns", uid: "u1", ...(opts.deleted ? { deletionTimestamp: rfc3339(T0) } : {}) },
    spec: {
      containers: opts.containers ?? [{ name: "app", image: "img:1" }],
      ...(opts.initContainers ? { initContainers: opts.initContainers } : {}),
      restartPolicy: opts.restartPolicy ?? "Always",
    },
    status: {
      phase: "Pending",
      qosClass: "BestEffort",
      conditions: [{ type: "PodScheduled", status: "True", lastTransitionTime: rfc3339(T0 - 5000) }],
    },
  };
}

const sandbox = (ready = true): PodSandboxStatus => ({
  id: "sb1",
  metadata: { name: "p", namespace: "ns", uid: "u1", attempt: 0 },
  state: ready ? "ready" : "notready",
  createdAt: T0,
  labels: {},
  annotations: {},
  ips: ready ? ["10.42.0.5"] : [],
});

function ctr(name: string, state: RuntimeContainer["state"], extra: Partial<RuntimeContainer> = {}): RuntimeContainer {
  return {
    id: `${name}-${extra.restartCount ?? 0}`,
    podSandboxId: "sb1",
    name,
    state,
    createdAt: T0 + (extra.restartCount ?? 0) * 1000,
    startedAt: state === "created" ? 0 : T0 + 1000,
    finishedAt: state === "exited" ? T0 + 2000 : 0,
    exitCode: 0,
    reason: state === "exited" ? "Completed" : "",
    message: "",
    image: "img:1",
    imageRef: "img@sha256:abc",
    restartCount: 0,
    ...extra,
  };
}

function runtime(containers: RuntimeContainer[], sb: PodSandboxStatus[] = [sandbox()]): RuntimePodStatus {
  const sorted = [...containers].sort((a, b) => b.createdAt - a.createdAt);
  return { uid: "u1", sandboxes: sb, containers: sorted, ips: sb[0]?.state === "ready" ? sb[0].ips : [] };
}

function gen(p: Pod, rt: RuntimePodStatus, opts: { reasons?: Record<string, ReasonEntry>; terminal?: boolean; old?: PodStatus } = {}): PodStatus {
  return generateAPIPodStatus({
    pod: p,
    runtime: rt,
    oldStatus: opts.old ?? p.status ?? {},
    reasons: new Map(Object.entries(opts.reasons ?? {})),
    podIsTerminal: opts.terminal ?? false,
    hostIPs: ["127.1.0.1"],
    runtimeType: "sim",
  });
}

const condMap = (s: PodStatus) => Object.fromEntries((s.conditions ?? []).map((c) => [c.type, `${c.status}${c.reason ? `/${c.reason}` : ""}`]));

describe("generateAPIPodStatus", () => {
  const table: {
    name: string;
    pod: Pod;
    rt: RuntimePodStatus;
    reasons?: Record<string, ReasonEntry>;
    terminal?: boolean;
    phase: string;
    conditions: Record<string, string>;
    state: string;
  }[] = [
    {
      name: "nothing created yet",
      pod: pod(),
      rt: runtime([], []),
      phase: "Pending",
      conditions: { PodReadyToStartContainers: "False", Initialized: "True", Ready: "False/ContainersNotReady", ContainersReady: "False/ContainersNotReady", PodScheduled: "True" },
      state: "waiting:ContainerCreating",
    },
    {
      name: "running",
      pod: pod(),
      rt: runtime([ctr("app", "running")]),
      phase: "Running",
      conditions: { PodReadyToStartContainers: "True", Initialized: "True", Ready: "True", ContainersReady: "True", PodScheduled: "True" },
      state: "running",
    },
    {
      name: "image pull failed",
      pod: pod(),
      rt: runtime([]),
      reasons: { app: { reason: "ErrImagePull", message: "not found" } },
      phase: "Pending",
      conditions: { PodReadyToStartContainers: "True", Initialized: "True", Ready: "False/ContainersNotReady", ContainersReady: "False/ContainersNotReady", PodScheduled: "True" },
      state: "waiting:ErrImagePull",
    },
    {
      name: "crash loop (Always)",
      pod: pod(),
      rt: runtime([ctr("app", "exited", { exitCode: 1, reason: "Error", restartCount: 2 })]),
      reasons: { app: { reason: "CrashLoopBackOff", message: "back-off 40s" } },
      phase: "Running",
      conditions: { PodReadyToStartContainers: "True", Initialized: "True", Ready: "False/ContainersNotReady", ContainersReady: "False/ContainersNotReady", PodScheduled: "True" },
      state: "waiting:CrashLoopBackOff",
    },
    {
      name: "Never, exited 0",
      pod: pod({ restartPolicy: "Never" }),
      rt: runtime([ctr("app", "exited")]),
      phase: "Succeeded",
      conditions: { PodReadyToStartContainers: "True", Initialized: "True/PodCompleted", Ready: "False/PodCompleted", ContainersReady: "False/PodCompleted", PodScheduled: "True" },
      state: "terminated:Completed",
    },
    {
      name: "Never, exited 1",
      pod: pod({ restartPolicy: "Never" }),
      rt: runtime([ctr("app", "exited", { exitCode: 1, reason: "Error" })]),
      phase: "Failed",
      conditions: { PodReadyToStartContainers: "True", Initialized: "True", Ready: "False/PodFailed", ContainersReady: "False/PodFailed", PodScheduled: "True" },
      state: "terminated:Error",
    },
    {
      name: "OnFailure, exited 1 (restarting)",
      pod: pod({ restartPolicy: "OnFailure" }),
      rt: runtime([ctr("app", "exited", { exitCode: 1, reason: "Error" })]),
      phase: "Running",
      conditions: { PodReadyToStartContainers: "True", Initialized: "True", Ready: "False/ContainersNotReady", ContainersReady: "False/ContainersNotReady", PodScheduled: "True" },
      state: "terminated:Error",
    },
    {
      name: "Always, deleted and stopped (terminal)",
      pod: pod({ deleted: true }),
      rt: runtime([ctr("app", "exited", { exitCode: 137, reason: "Error" })], [sandbox(false)]),
      terminal: true,
      phase: "Failed",
      conditions: { PodReadyToStartContainers: "False", Initialized: "True", Ready: "False/PodFailed", ContainersReady: "False/PodFailed", PodScheduled: "True" },
      state: "terminated:Error",
    },
    {
      name: "init container running",
      pod: pod({ initContainers: [{ name: "init", image: "img:1" }] }),
      rt: runtime([ctr("init", "running")]),
      phase: "Pending",
      conditions: {
        PodReadyToStartContainers: "True",
        Initialized: "False/ContainersNotInitialized",
        Ready: "False/ContainersNotReady",
        ContainersReady: "False/ContainersNotReady",
        PodScheduled: "True",
      },
      state: "waiting:PodInitializing",
    },
    {
      name: "init done, app running",
      pod: pod({ initContainers: [{ name: "init", image: "img:1" }] }),
      rt: runtime([ctr("init", "exited"), ctr("app", "running", { createdAt: T0 + 5000 })]),
      phase: "Running",
      conditions: { PodReadyToStartContainers: "True", Initialized: "True", Ready: "True", ContainersReady: "True", PodScheduled: "True" },
      state: "running",
    },
    {
      name: "init failed, Never",
      pod: pod({ restartPolicy: "Never", initContainers: [{ name: "init", image: "img:1" }] }),
      rt: runtime([ctr("init", "exited", { exitCode: 2, reason: "Error" })]),
      phase: "Failed",
      conditions: {
        PodReadyToStartContainers: "True",
        Initialized: "False/ContainersNotInitialized",
        Ready: "False/PodFailed",
        ContainersReady: "False/PodFailed",
        PodScheduled: "True",
      },
      state: "waiting:PodInitializing",
    },
    {
      name: "sidecar running, app running",
      pod: pod({ initContainers: [{ name: "side", image: "img:1", restartPolicy: "Always" }] }),
      rt: runtime([ctr("side", "running"), ctr("app", "running", { createdAt: T0 + 5000 })]),
      phase: "Running",
      conditions: { PodReadyToStartContainers: "True", Initialized: "True", Ready: "True", ContainersReady: "True", PodScheduled: "True" },
      state: "running",
    },
  ];
  for (const t of table) {
    it(t.name, () => {
      const s = gen(t.pod, t.rt, { reasons: t.reasons, terminal: t.terminal });
      assert.equal(s.phase, t.phase);
      assert.deepEqual(condMap(s), t.conditions);
      assert.deepEqual(
        (s.conditions ?? []).map((c) => c.type),
        ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"],
      );
      const st = s.containerStatuses![0]!.state!;
      const shown = st.running ? "running" : st.waiting ? `waiting:${st.waiting.reason}` : `terminated:${st.terminated?.reason}`;
      assert.equal(shown, t.state);
      assert.equal(s.hostIP, "127.1.0.1");
    });
  }

  it("shapes container statuses as upstream", () => {
    const rt = runtime([
      ctr("app", "exited", { exitCode: 1, reason: "Error", restartCount: 1 }),
      ctr("app", "running", { restartCount: 2, id: "app-2" }),
    ]);
    const s = gen(pod(), rt);
    assert.deepEqual(s.containerStatuses, [
      {
        name: "app",
        state: { running: { startedAt: rfc3339(T0 + 1000) } },
        lastState: {
          terminated: {
            exitCode: 1,
            reason: "Error",
            startedAt: rfc3339(T0 + 1000),
            finishedAt: rfc3339(T0 + 2000),
            containerID: "sim://app-1",
          },
        },
        ready: true,
        started: true,
        restartCount: 2,
        image: "img:1",
        imageID: "img@sha256:abc",
        containerID: "sim://app-2",
      },
    ]);
    assert.equal(s.podIP, "10.42.0.5");
    assert.deepEqual(s.podIPs, [{ ip: "10.42.0.5" }]);
  });

  it("keeps a CrashLoopBackOff's last termination and message", () => {
    const rt = runtime([ctr("app", "exited", { exitCode: 1, reason: "Error", restartCount: 3 })]);
    const msg = "back-off 40s restarting failed container=app pod=p_ns(u1)";
    const s = gen(pod(), rt, { reasons: { app: { reason: "CrashLoopBackOff", message: msg } } });
    const cs = s.containerStatuses![0]!;
    assert.deepEqual(cs.state, { waiting: { reason: "CrashLoopBackOff", message: msg } });
    assert.equal(cs.lastState?.terminated?.exitCode, 1);
    assert.equal(cs.restartCount, 3);
    assert.equal(cs.ready, false);
    assert.equal(cs.started, false);
  });

  it("sorts container statuses by name and init statuses by spec order", () => {
    const p = pod({
      containers: [{ name: "b" }, { name: "a" }],
      initContainers: [{ name: "z" }, { name: "y" }],
    });
    const s = gen(p, runtime([]));
    assert.deepEqual(s.containerStatuses!.map((c) => c.name), ["a", "b"]);
    assert.deepEqual(s.initContainerStatuses!.map((c) => c.name), ["z", "y"]);
  });

  it("never leaves a terminal phase the API shows", () => {
    const p = pod({ restartPolicy: "Never" });
    p.status!.phase = "Succeeded";
    const s = gen(p, runtime([ctr("app", "running")]));
    assert.equal(s.phase, "Succeeded");
  });

  it("keeps conditions it does not own", () => {
    const p = pod();
    p.status!.conditions!.push({ type: "example.com/Gate", status: "True" });
    p.spec!.readinessGates = [{ conditionType: "example.com/Gate" }];
    const s = gen(p, runtime([ctr("app", "running")]));
    assert.equal(s.conditions![0]!.type, "example.com/Gate");
    assert.equal(condMap(s).Ready, "True");
  });

  it("reports readiness-gate messages as upstream", () => {
    const p = pod();
    p.spec!.readinessGates = [{ conditionType: "example.com/Gate" }];
    const s = gen(p, runtime([ctr("app", "running")]));
    const ready = s.conditions!.find((c) => c.type === "Ready")!;
    assert.equal(ready.reason, "ReadinessGatesNotReady");
    assert.equal(ready.message, 'corresponding condition of pod readiness gate "example.com/Gate" does not exist.');
  });

  it("writes unready messages as Go prints slices", () => {
    const s = gen(pod({ containers: [{ name: "a" }, { name: "b" }] }), runtime([]));
    assert.equal(s.conditions!.find((c) => c.type === "ContainersReady")!.message, "containers with unready status: [a b]");
  });
});

describe("getPhase", () => {
  it("is Pending while any container waits without a previous termination", () => {
    const p = pod({ containers: [{ name: "a" }, { name: "b" }] });
    const phase = getPhase(p, [
      { name: "a", ready: true, restartCount: 0, image: "", imageID: "", state: { running: {} } },
      { name: "b", ready: false, restartCount: 0, image: "", imageID: "", state: { waiting: { reason: "ContainerCreating" } } },
    ], false);
    assert.equal(phase, "Pending");
  });
});

describe("normalizeStatus", () => {
  it("keeps transition times of unchanged conditions and sets startTime once", () => {
    const old: PodStatus = {
      startTime: rfc3339(T0),
      conditions: [
        { type: "Ready", status: "False", lastTransitionTime: rfc3339(T0) },
        { type: "PodScheduled", status: "True", lastTransitionTime: rfc3339(T0 - 5000) },
      ],
    };
    const next = normalizeStatus(
      { conditions: [{ type: "Ready", status: "True" }, { type: "PodScheduled", status: "True" }] },
      old,
      T0 + 60_000,
    );
    assert.equal(next.startTime, rfc3339(T0));
    assert.equal(next.conditions![0]!.lastTransitionTime, rfc3339(T0 + 60_000));
    assert.equal(next.conditions![1]!.lastTransitionTime, rfc3339(T0 - 5000));
    assert.equal(next.conditions![0]!.lastProbeTime, null);
  });
});
