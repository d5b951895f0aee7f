/**
 * PodDisruptionBudget status through a real server and simulated nodes:
 * a budget reports its pods' health and the disruptions allowed, the
 * eviction subresource spends them (429 once spent) and the status
 * follows the pods; a percentage budget counts against the scale of the
 * pods' Deployment; a budget selecting nothing says so.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import type { PodDisruptionBudget } from "kubernetes-types/policy/v1.js";
import { configFromKubeconfig } from "../src/client/config.js";
import { ResourceClient } from "../src/client/resource-client.js";
import { POD_DISRUPTION_BUDGETS, PODS } from "../src/client/resources.js";
import { RestClient } from "../src/client/rest-client.js";
import { StatusError } from "../src/machinery/status-error.js";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";
import { startSimAgent } from "./support/sim-agent.js";
import { stopProcess } from "./support/skiff.js";
import { eventually } from "./support/eventually.js";

const NS = "budgets";

const figures = (p: PodDisruptionBudget) => {
  const s = p.status;
  return s && [s.currentHealthy, s.desiredHealthy, s.expectedPods, s.disruptionsAllowed];
};

describe("PodDisruptionBudget status (disruption controller)", () => {
  let server: TestServer;
  let agent: ChildProcess | undefined;
  let dir: string;
  let rest: RestClient;
  let pdbs: ResourceClient<PodDisruptionBudget>;
  const kubectl = (args: string[], input?: string) => ok(server.kubectl(args, input === undefined ? {} : { input }), `kubectl ${args.join(" ")}`);

  /** The budget once its status shows `want` [currentHealthy, desiredHealthy, expectedPods, disruptionsAllowed]. */
  const budgetWith = (name: string, want: number[]) =>
    eventually(`${name} status ${JSON.stringify(want)}`, async () => {
      const p = await pdbs.get(name);
      return JSON.stringify(figures(p)) === JSON.stringify(want) ? p : undefined;
    });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "skiff-disruption-e2e-"));
    server = await startTestServer([]);
    agent = (await startSimAgent(server, { nodes: 2, nodeName: "pdb", dataDir: join(dir, "agent") })).process;
    rest = new RestClient(configFromKubeconfig(server.kubeconfig));
    pdbs = new ResourceClient<PodDisruptionBudget>(rest, POD_DISRUPTION_BUDGETS, NS);
    kubectl(["create", "namespace", NS]);
    kubectl(["create", "deployment", "web", "-n", NS, "--image=registry.invalid/web:1", "--replicas=3"]);
  });

  after(async () => {
    rest?.close();
    if (agent) await stopProcess(agent);
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("minAvailable 2 of 3 ready pods: 1 disruption allowed; an eviction spends it, the next is refused (429); a new pod restores it", async () => {
    // Bare pods: nothing replaces an evicted one, so the refusal does not race a replacement becoming Ready.
    const barePod = (name: string) =>
      JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name, labels: { app: "bare" } }, spec: { containers: [{ name: "c", image: "registry.invalid/bare:1" }] } });
    for (const n of ["bare-a", "bare-b", "bare-c"]) kubectl(["apply", "-n", NS, "-f", "-"], barePod(n));
    kubectl(["create", "poddisruptionbudget", "bare", "-n", NS, "--selector=app=bare", "--min-available=2"]);
    const pdb = await budgetWith("bare", [3, 2, 3, 1]);
    const cond = pdb.status?.conditions?.find((c) => c.type === "DisruptionAllowed");
    assert.deepEqual([cond?.status, cond?.reason, cond?.message], ["True", "SufficientPods", ""]);
    assert.match(kubectl(["get", "pdb", "-n", NS, "bare"]), /^bare\s+2\s+N\/A\s+1\s/m);

    // No client-side retries of the 429: the refusal is what is tested.
    const once = new RestClient(configFromKubeconfig(server.kubeconfig), { maxRetries: 0 });
    const evict = (name: string) =>
      new ResourceClient<Pod>(once, PODS, NS).subresource(name, "eviction", { apiVersion: "policy/v1", kind: "Eviction", metadata: { name, namespace: NS } });
    await evict("bare-a");
    const refused = await evict("bare-b").then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(refused instanceof StatusError, `the second eviction should be refused, got ${String(refused)}`);
    assert.equal(refused.code, 429);
    assert.equal(refused.status.message, "Cannot evict pod as it would violate the pod's disruption budget.");
    once.close();

    // The evicted pod is gone: 2 healthy of 2 expected, none allowed, and the eviction's mark on it is dropped.
    const after = await budgetWith("bare", [2, 2, 2, 0]);
    assert.equal(after.status?.disruptedPods, undefined);
    assert.deepEqual(
      after.status?.conditions?.map((c) => [c.type, c.status, c.reason]),
      [["DisruptionAllowed", "False", "InsufficientPods"]],
    );
    kubectl(["apply", "-n", NS, "-f", "-"], barePod("bare-d"));
    await budgetWith("bare", [3, 2, 3, 1]);
  });

  it("maxUnavailable 50% counts against the Deployment's scale, rounded up", async () => {
    kubectl(["create", "poddisruptionbudget", "half", "-n", NS, "--selector=app=web", "--max-unavailable=50%"]);
    // 3 replicas: ceil(1.5) = 2 may be unavailable, so 1 must stay healthy.
    await budgetWith("half", [3, 1, 3, 2]);
    kubectl(["scale", "deployment", "web", "-n", NS, "--replicas=4"]);
    await budgetWith("half", [4, 2, 4, 2]);
    assert.match(kubectl(["get", "pdb", "-n", NS, "half"]), /^half\s+N\/A\s+50%\s+2\s/m);
  });

  it("a budget selecting no pods allows nothing and says so", async () => {
    kubectl(["create", "poddisruptionbudget", "nobody", "-n", NS, "--selector=app=nobody", "--min-available=1"]);
    const p = await budgetWith("nobody", [0, 1, 0, 0]);
    assert.equal(p.status?.conditions?.find((c) => c.type === "DisruptionAllowed")?.reason, "InsufficientPods");
    const events = kubectl(["get", "events", "-n", NS, "--field-selector", "involvedObject.name=nobody", "-o", "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}"]);
    assert.match(events, /^NoPods: No matching pods found$/m);
  });
});
