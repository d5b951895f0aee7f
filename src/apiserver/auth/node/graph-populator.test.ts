import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../../machinery/log.js";
import type { ApiWatchEvent, WatchOptions } from "../../registry/object-store.js";
import type { KList, KObject } from "../../registry/types.js";
import { NodeGraph } from "./graph.js";
import { GraphPopulator, type WatchableObjects } from "./graph-populator.js";

const pod = (name: string, secret: string, rv: string): KObject => ({
  metadata: { namespace: "ns", name, resourceVersion: rv },
  spec: { nodeName: "n1", volumes: [{ name: "v", secret: { secretName: secret } }] },
});
const list = (items: KObject[], rv: string): KList => ({ apiVersion: "v1", kind: "List", metadata: { resourceVersion: rv }, items });

/** A source whose first watch ends in 410 Expired; the relist then shows a changed world. */
class ExpiringSource implements WatchableObjects {
  lists = 0;
  watches: string[] = [];
  constructor(private readonly states: KList[]) {}
  async list(): Promise<KList> {
    return this.states[Math.min(this.lists++, this.states.length - 1)]!;
  }
  async *watch(_ns: undefined, opts: WatchOptions): AsyncIterable<ApiWatchEvent> {
    this.watches.push(opts.resourceVersion ?? "");
    if (this.watches.length === 1) {
      yield { type: "ERROR", object: { kind: "Status", apiVersion: "v1", status: "Failure", code: 410, reason: "Expired", message: "too old", metadata: {} } };
      return;
    }
    await new Promise<void>((resolve) => opts.signal.addEventListener("abort", () => resolve(), { once: true }));
  }
}

const empty: WatchableObjects = {
  list: async () => list([], "1"),
  async *watch(_ns, opts) {
    await new Promise<void>((resolve) => opts.signal.addEventListener("abort", () => resolve(), { once: true }));
  },
};

describe("GraphPopulator", () => {
  it("relists after an expired watch, dropping what vanished in the gap", async () => {
    const graph = new NodeGraph();
    const pods = new ExpiringSource([list([pod("a", "old", "5")], "5"), list([pod("b", "new", "9")], "9")]);
    const populator = new GraphPopulator(graph, { pods, persistentVolumes: empty }, silentLogger, 10);
    try {
      await populator.start();
      assert.equal(graph.hasPathFrom("n1", "secret", "ns", "old"), true);
      for (let i = 0; i < 500 && pods.watches.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(pods.watches, ["5", "9"], "the second watch starts from the relist's revision");
      assert.equal(graph.hasPathFrom("n1", "secret", "ns", "old"), false);
      assert.equal(graph.hasPathFrom("n1", "secret", "ns", "new"), true);
    } finally {
      populator.stop();
    }
  });
});
