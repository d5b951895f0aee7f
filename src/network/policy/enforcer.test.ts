import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Namespace, Pod } from "kubernetes-types/core/v1.js";
import type { NetworkPolicy } from "kubernetes-types/networking/v1.js";
import type { KubeList, KubeObject, ListerWatcher } from "../../client/resource-client.js";
import { systemTimers } from "../../client/timers.js";
import type { WatchEvent } from "../../client/watch.js";
import { silentLogger } from "../../machinery/log.js";
import { cleanupNetworkPolicyTable, NetworkPolicyEnforcer } from "./enforcer.js";

let rv = 0;
/** Objects listed once (after `gate` resolves), then the watch events the test pushes. */
class FakeSource<T extends KubeObject> implements ListerWatcher<T> {
  readonly #queue: WatchEvent<T>[] = [];
  #wake: (() => void) | undefined;
  constructor(
    readonly initial: T[],
    readonly gate: Promise<void> = Promise.resolve(),
  ) {}
  async list(): Promise<KubeList<T>> {
    await this.gate;
    return { metadata: { resourceVersion: String(rv) }, items: this.initial };
  }
  push(type: "ADDED" | "MODIFIED" | "DELETED", object: T): void {
    object.metadata = { ...object.metadata, resourceVersion: String(++rv) };
    this.#queue.push({ type, object });
    this.#wake?.();
  }
  async *watch(_opts: unknown, signal?: AbortSignal): AsyncIterable<WatchEvent<T>> {
    signal?.addEventListener("abort", () => this.#wake?.(), { once: true });
    while (!signal?.aborted) {
      while (this.#queue.length > 0) yield this.#queue.shift()!;
      await new Promise<void>((r) => (this.#wake = r));
    }
  }
}

function pod(name: string, ip: string, labels: Record<string, string>): Pod {
  return { metadata: { namespace: "prod", name, labels, resourceVersion: String(++rv) }, spec: { nodeName: "n1", containers: [] }, status: { phase: "Running", podIP: ip } };
}
const WEB = pod("web", "10.1.0.2", { app: "web" });
const DENY: NetworkPolicy = { metadata: { namespace: "prod", name: "deny", resourceVersion: "1" }, spec: { podSelector: { matchLabels: { app: "web" } } } };

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(check(), what);
}

function setup(opts: { gate?: Promise<void>; fail?: () => boolean; resyncPeriodMs?: number } = {}) {
  const scripts: string[] = [];
  const pods = new FakeSource<Pod>([WEB]);
  const namespaces = new FakeSource<Namespace>([{ metadata: { name: "prod", resourceVersion: "1" } }], opts.gate);
  const policies = new FakeSource<NetworkPolicy>([DENY]);
  const enforcer = new NetworkPolicyEnforcer({
    pods,
    namespaces,
    networkPolicies: policies,
    nodeName: "n1",
    tableSuffix: "cni0",
    logger: silentLogger,
    timers: systemTimers,
    retryInitialMs: 10,
    resyncPeriodMs: opts.resyncPeriodMs,
    nft: async (script) => {
      scripts.push(script);
      return opts.fail?.() ? "Error: Could not process rule: No such file or directory" : undefined;
    },
  });
  const stop = new AbortController();
  const running = enforcer.run(stop.signal);
  return { scripts, pods, policies, enforcer, stop, running };
}

describe("NetworkPolicyEnforcer", () => {
  it("programs nothing before every cache has listed, then rebuilds the table once", async () => {
    let open = () => {};
    const gate = new Promise<void>((r) => (open = r));
    const t = setup({ gate });
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(t.scripts, [], "no rules from a partial view");
    open();
    await until("the first sync", () => t.enforcer.syncCount === 1);
    assert.match(t.scripts[0]!, /^add table inet skiff_policy_cni0\ndelete table inet skiff_policy_cni0\n/);
    assert.match(t.scripts[0]!, /add element inet skiff_policy_cni0 ingress_isolated \{ 10\.1\.0\.2 \}/);
    t.stop.abort();
    await t.running;
  });

  it("sends only the difference afterwards, and nothing for events that change nothing", async () => {
    const t = setup();
    await until("the first sync", () => t.enforcer.syncCount === 1);
    t.pods.push("MODIFIED", { ...WEB, metadata: { ...WEB.metadata, annotations: { touched: "yes" } } });
    t.pods.push("ADDED", pod("web2", "10.1.0.5", { app: "web" }));
    await until("the churn sync", () => t.enforcer.syncCount === 2);
    assert.equal(t.scripts.length, 2);
    assert.equal(t.scripts[1], "add element inet skiff_policy_cni0 ingress_isolated { 10.1.0.5 }\n");
    t.stop.abort();
    await t.running;
  });

  it("rebuilds the whole table after a failed transaction", async () => {
    let failing = false;
    const t = setup({ fail: () => failing });
    await until("the first sync", () => t.enforcer.syncCount === 1);
    failing = true;
    t.policies.push("DELETED", DENY);
    await until("a failed attempt", () => t.scripts.length >= 2);
    assert.match(t.scripts[1]!, /^delete element inet skiff_policy_cni0 ingress_isolated/);
    failing = false;
    await until("the retry", () => t.enforcer.syncCount === 2);
    assert.match(t.scripts[t.scripts.length - 1]!, /^add table inet skiff_policy_cni0\ndelete table/);
    t.stop.abort();
    await t.running;
  });

  it("rebuilds the whole table on the resync period even when nothing changed", async () => {
    const t = setup({ resyncPeriodMs: 20 });
    await until("a resync", () => t.enforcer.syncCount >= 2);
    t.stop.abort();
    await t.running;
    assert.equal(t.scripts[1], t.scripts[0]);
    assert.match(t.scripts[1]!, /^add table inet skiff_policy_cni0\ndelete table/);
  });

  it("cleans up by deleting its table", async () => {
    const scripts: string[] = [];
    const err = await cleanupNetworkPolicyTable("cni0", async (s) => {
      scripts.push(s);
      return undefined;
    });
    assert.equal(err, undefined);
    assert.deepEqual(scripts, ["add table inet skiff_policy_cni0\ndelete table inet skiff_policy_cni0\n"]);
  });
});
