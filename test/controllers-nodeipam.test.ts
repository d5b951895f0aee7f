/**
 * The node IPAM controller through a real server: Nodes created through the
 * API get a /24 of --cluster-cidr each, a range a Node already holds is
 * never handed out again (also after a restart of the controller manager),
 * and an exhausted range says so in an event.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";

let srv: TestServer;
before(async () => {
  srv = await startTestServer(["--cluster-cidr", "10.42.0.0/22", "--disable", "scheduler"]);
});
after(async () => {
  await srv?.stop();
});

function createNode(name: string, podCIDR?: string): void {
  const node = { apiVersion: "v1", kind: "Node", metadata: { name }, ...(podCIDR ? { spec: { podCIDR, podCIDRs: [podCIDR] } } : {}) };
  ok(srv.kubectl(["create", "-f", "-"], { input: JSON.stringify(node) }), `create node ${name}`);
}

async function podCidrOf(name: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const out = srv.kubectl(["get", "node", name, "-o", "jsonpath={.spec.podCIDR} {.spec.podCIDRs[0]}"]).stdout.trim();
    if (out) {
      const [single, first] = out.split(" ");
      assert.equal(first, single, "podCIDRs[0] equals podCIDR");
      return single!;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`node ${name} got no podCIDR`);
}

describe("node IPAM controller", () => {
  it("gives each node its own /24 and leaves an existing one alone", async () => {
    createNode("kept", "10.42.0.0/24");
    createNode("n1");
    createNode("n2");
    const a = await podCidrOf("n1");
    const b = await podCidrOf("n2");
    assert.notEqual(a, b);
    for (const c of [a, b]) {
      assert.match(c, /^10\.42\.[123]\.0\/24$/);
      assert.notEqual(c, "10.42.0.0/24", "a range a node holds is never handed out");
    }
    assert.equal(await podCidrOf("kept"), "10.42.0.0/24");
  });

  it("reports CIDRNotAvailable when the range is exhausted, and recovers when a node goes", async () => {
    createNode("n3");
    await podCidrOf("n3");
    createNode("n4");
    let events = "";
    for (let i = 0; i < 200 && !events.includes("CIDRNotAvailable"); i++) {
      events = srv.kubectl(["get", "events", "-A", "--field-selector", "involvedObject.name=n4", "-o", "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}"]).stdout;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(events, /CIDRNotAvailable: Node n4 status is now: CIDRNotAvailable/);
    const freed = await podCidrOf("n1");
    ok(srv.kubectl(["delete", "node", "n1"]), "delete n1");
    assert.equal(await podCidrOf("n4"), freed, "the deleted node's range goes to the waiting node");
  });
});
