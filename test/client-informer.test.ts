/**
 * Informers against a real `skiff server`: initial sync, handlers for
 * creates/updates/deletes, indexes, and a relist after a real 410 (a watch
 * resumed from a revision the server has compacted away).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ConfigMap } from "kubernetes-types/core/v1.js";
import { configFromKubeconfig } from "../src/client/config.js";
import { InformerFactory, SharedInformer } from "../src/client/informer.js";
import { type KubeList, type ListerWatcher, type ListOptions, ResourceClient, type WatchOptions } from "../src/client/resource-client.js";
import { CONFIGMAPS } from "../src/client/resources.js";
import { RestClient } from "../src/client/rest-client.js";
import { isExpired, type WatchEvent } from "../src/client/watch.js";
import { startTestServer, type TestServer } from "./support/cluster.js";

let srv: TestServer;
let rest: RestClient;
let cms: ResourceClient<ConfigMap>;

before(async () => {
  // A one-second history window, so a paused watch falls behind compaction quickly.
  srv = await startTestServer(["--compaction-interval", "1s"]);
  rest = new RestClient(configFromKubeconfig(srv.kubeconfig));
  cms = new ResourceClient<ConfigMap>(rest, CONFIGMAPS);
});
after(async () => {
  rest?.close();
  await srv?.stop();
});

const cm = (name: string, labels: Record<string, string>, data: Record<string, string> = {}, namespace = "default"): ConfigMap => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace, labels },
  data,
});

async function until(what: string, cond: () => boolean | Promise<boolean>, tries = 600): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`never happened: ${what}`);
}

describe("informer against a real server", () => {
  it("syncs, delivers creates/updates/deletes and keeps indexes", async () => {
    await rest.request("POST", "/api/v1/namespaces", { body: { apiVersion: "v1", kind: "Namespace", metadata: { name: "shop" } } });
    for (let i = 0; i < 12; i++) await cms.create(cm(`pre-${i}`, { suite: "informer", tier: i % 2 ? "odd" : "even" }, {}, i < 6 ? "default" : "shop"));
    const factory = new InformerFactory(rest);
    const inf = factory.informerFor<ConfigMap>(CONFIGMAPS, { labelSelector: "suite=informer" });
    assert.equal(factory.informerFor<ConfigMap>(CONFIGMAPS, { labelSelector: "suite=informer" }), inf, "shared per resource and scope");
    inf.addIndexer("tier", (c) => [c.metadata?.labels?.tier ?? ""]);
    const log: string[] = [];
    inf.addEventHandler({
      onAdd: (c, initial) => log.push(`add ${c.metadata?.name}${initial ? " (initial)" : ""}`),
      onUpdate: (o, n) => log.push(`update ${n.metadata?.name} ${o.data?.v ?? "-"}->${n.data?.v ?? "-"}`),
      onDelete: (c) => log.push(`delete ${c.metadata?.name}`),
    });
    const ac = new AbortController();
    factory.start(ac.signal);
    try {
      assert.equal(await factory.waitForSync(ac.signal), true);
      assert.equal(inf.size, 12);
      assert.equal(log.filter((l) => l.endsWith("(initial)")).length, 12);
      assert.equal(inf.byNamespace("shop").length, 6);
      assert.equal(inf.byIndex("tier", "odd").length, 6);
      assert.ok(inf.get("shop/pre-7"));

      log.length = 0;
      const made = await cms.create(cm("live", { suite: "informer", tier: "odd" }, { v: "1" }));
      await cms.namespace("default").update({ ...made, data: { v: "2" } });
      await cms.namespace("default").delete("pre-0");
      await cms.create(cm("not-mine", { suite: "elsewhere" }));
      await until("events delivered", () => log.length >= 3);
      assert.deepEqual(log, ["add live", "update live 1->2", "delete pre-0"]);
      assert.equal(inf.get("default/live")?.data?.v, "2");
      assert.equal(inf.get("default/pre-0"), undefined);
      assert.equal(inf.get("default/not-mine"), undefined);
      assert.equal(inf.byIndex("tier", "odd").length, 7);
    } finally {
      ac.abort();
    }
  });

  it("relists after a watch falls behind compaction (410), diffing what it missed", async () => {
    const real = cms;
    const gate = new Partition(real);
    for (const n of ["keep", "change", "vanish"]) await cms.create(cm(`gap-${n}`, { suite: "gap" }, { v: "1" }));
    const inf = new SharedInformer<ConfigMap>({ source: gate, labelSelector: "suite=gap", backoffInitialMs: 100, backoffMaxMs: 500 });
    const log: string[] = [];
    inf.addEventHandler({
      onAdd: (c) => log.push(`add ${c.metadata?.name}`),
      onUpdate: (o, n) => log.push(`update ${n.metadata?.name} ${o.data?.v}->${n.data?.v}`),
      onDelete: (c) => log.push(`delete ${c.metadata?.name} v=${c.data?.v}`),
    });
    const ac = new AbortController();
    const running = inf.run(ac.signal);
    try {
      await inf.waitForSync(ac.signal);
      await until("watching", () => gate.watchesOpened >= 1);
      log.length = 0;

      // Cut the informer off, change the world, and wait until the server
      // has compacted past the informer's resourceVersion.
      gate.pause();
      const ns = cms.namespace("default");
      const change = await ns.get("gap-change");
      await ns.update({ ...change, data: { v: "2" } });
      await ns.delete("gap-vanish");
      await cms.create(cm("gap-new", { suite: "gap" }, { v: "1" }));
      const stale = inf.lastSyncResourceVersion();
      let churn = 0;
      await until(
        "history compacted past the informer",
        async () => {
          await cms.create(cm(`churn-${churn++}`, { suite: "churn" }));
          try {
            const probe = new AbortController();
            const it = real.watch({ resourceVersion: stale, labelSelector: "suite=gap" }, probe.signal)[Symbol.asyncIterator]();
            const timer = setTimeout(() => probe.abort(), 200);
            await it.next();
            clearTimeout(timer);
            probe.abort();
            return false;
          } catch (err) {
            return isExpired(err);
          }
        },
        400,
      );
      assert.deepEqual(log, [], "nothing seen while cut off");

      gate.resume();
      await until("relisted", () => log.length >= 3);
      assert.equal(gate.expiredWatches >= 1, true, "the server answered the resumed watch with 410");
      assert.deepEqual(log.sort(), ["add gap-new", "delete gap-vanish v=1", "update gap-change 1->2"]);
      assert.deepEqual(
        inf
          .list()
          .map((c) => c.metadata?.name)
          .sort(),
        ["gap-change", "gap-keep", "gap-new"],
      );
      assert.ok(gate.lists >= 2);
      await cms.deleteCollection({ labelSelector: "suite=churn" });
    } finally {
      ac.abort();
      await running;
    }
  });
});

/** Passes list/watch through to the server, except that it can cut watches off (a network partition). */
class Partition implements ListerWatcher<ConfigMap> {
  lists = 0;
  watchesOpened = 0;
  expiredWatches = 0;
  private paused = false;
  private resumed: (() => void) | undefined;
  private current = new Set<AbortController>();

  constructor(private readonly real: ResourceClient<ConfigMap>) {}

  pause(): void {
    this.paused = true;
    for (const ac of this.current) ac.abort();
  }

  resume(): void {
    this.paused = false;
    this.resumed?.();
  }

  list(opts: ListOptions): Promise<KubeList<ConfigMap>> {
    this.lists++;
    return this.real.list(opts);
  }

  async *watch(opts: WatchOptions, signal?: AbortSignal): AsyncGenerator<WatchEvent<ConfigMap>> {
    while (this.paused && !signal?.aborted) {
      await new Promise<void>((r) => {
        this.resumed = r;
        signal?.addEventListener("abort", () => r(), { once: true });
      });
    }
    const ac = new AbortController();
    signal?.addEventListener("abort", () => ac.abort(), { once: true });
    this.current.add(ac);
    this.watchesOpened++;
    try {
      yield* this.real.watch(opts, ac.signal);
    } catch (err) {
      if (isExpired(err)) this.expiredWatches++;
      throw err;
    } finally {
      this.current.delete(ac);
    }
  }
}
