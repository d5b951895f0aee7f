import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import type { RuntimeContainer, RuntimePodStatus } from "../pod/runtime-pod-status.js";
import { containersToKillForProbes } from "./probe-kills.js";
import type { ProbeResult, ProbeType } from "./types.js";

const probe = { exec: { command: ["x"] } };

function running(name: string): RuntimeContainer {
  return { id: `${name}-id`, podSandboxId: "sb", name, state: "running", createdAt: 1, startedAt: 1, finishedAt: 0, exitCode: 0, reason: "", message: "", image: "i", imageRef: "i", restartCount: 0 };
}

function pod(restartPolicy: string, init: Container[], containers: Container[], deleted = false): Pod {
  return { metadata: { name: "p", namespace: "ns", uid: "u", ...(deleted ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}) }, spec: { restartPolicy, initContainers: init, containers } };
}

describe("containersToKillForProbes (upstream computePodActions)", () => {
  it("kills for failed liveness or startup probes with upstream's messages (table)", () => {
    const side: Container = { name: "side", image: "i", restartPolicy: "Always", startupProbe: probe, livenessProbe: probe };
    const app: Container = { name: "app", image: "i", startupProbe: probe, livenessProbe: probe };
    const status: RuntimePodStatus = { uid: "u", sandboxes: [], ips: [], containers: [running("side"), running("app")] };
    const cases: { name: string; policy?: string; results: Record<string, ProbeResult>; deleted?: boolean; want: string[] }[] = [
      { name: "all healthy", results: { "liveness/app-id": "success", "startup/app-id": "success", "startup/side-id": "success", "liveness/side-id": "success" }, want: [] },
      { name: "app liveness", results: { "liveness/app-id": "failure" }, want: ["app:LivenessProbe:Container app failed liveness probe, will be restarted"] },
      { name: "app startup", results: { "startup/app-id": "failure" }, want: ["app:StartupProbe:Container app failed startup probe, will be restarted"] },
      { name: "Never: no restart promised", policy: "Never", results: { "liveness/app-id": "failure" }, want: ["app:LivenessProbe:Container app failed liveness probe"] },
      { name: "sidecar startup", results: { "startup/side-id": "failure", "liveness/side-id": "failure" }, want: ["side:StartupProbe:Init container side failed startup probe"] },
      { name: "sidecar liveness waits for its startup", results: { "startup/side-id": "unknown", "liveness/side-id": "failure" }, want: [] },
      { name: "sidecar liveness", results: { "startup/side-id": "success", "liveness/side-id": "failure" }, want: ["side:LivenessProbe:Init container side failed liveness probe"] },
      { name: "terminating pods are not restarted", deleted: true, results: { "liveness/app-id": "failure" }, want: [] },
    ];
    for (const c of cases) {
      const result = (t: ProbeType, id: string) => c.results[`${t}/${id}`];
      const kills = containersToKillForProbes(pod(c.policy ?? "Always", [side], [app], c.deleted), status, result);
      assert.deepEqual(
        kills.map((k) => `${k.name}:${k.reason}:${k.message}`),
        c.want,
        c.name,
      );
    }
  });
});
