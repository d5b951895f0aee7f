/**
 * Events: core/v1 and events.k8s.io/v1 are one stored object seen through
 * two APIs, and every Event expires an hour after its last write.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { startTestServer, type TestServer, ok } from "./support/cluster.js";

let srv: TestServer;
before(async () => {
  srv = await startTestServer();
});
after(async () => {
  await srv?.stop();
});


describe("events through both APIs", () => {
  it("shows a core/v1 Event through events.k8s.io/v1 and the reverse", () => {
    ok(
      srv.kubectl(["create", "-f", "-"], {
        input: JSON.stringify({
          apiVersion: "v1",
          kind: "Event",
          metadata: { name: "web.1", namespace: "default" },
          involvedObject: { kind: "Pod", name: "web", namespace: "default" },
          reason: "Pulled",
          message: "Successfully pulled image",
          type: "Normal",
          source: { component: "kubelet" },
          count: 2,
        }),
      }),
      "create core event",
    );
    ok(
      srv.kubectl(["create", "-f", "-"], {
        input: JSON.stringify({
          apiVersion: "events.k8s.io/v1",
          kind: "Event",
          metadata: { name: "web.2", namespace: "default" },
          regarding: { kind: "Pod", name: "web", namespace: "default" },
          reason: "BackOff",
          note: "Back-off restarting failed container",
          type: "Warning",
          eventTime: "2026-11-28T17:00:01.000000Z",
          reportingController: "kubelet",
          reportingInstance: "node-1",
          action: "Restart",
        }),
      }),
      "create events.k8s.io event",
    );
    const asNew = JSON.parse(ok(srv.kubectl(["get", "--raw", "/apis/events.k8s.io/v1/namespaces/default/events/web.1"]), "read as events.k8s.io"));
    assert.equal(asNew.apiVersion, "events.k8s.io/v1");
    assert.equal(asNew.note, "Successfully pulled image");
    assert.equal(asNew.regarding.name, "web");
    assert.equal(asNew.deprecatedCount, 2);
    assert.deepEqual(asNew.deprecatedSource, { component: "kubelet" });
    const asCore = JSON.parse(ok(srv.kubectl(["get", "--raw", "/api/v1/namespaces/default/events/web.2"]), "read as core"));
    assert.equal(asCore.apiVersion, "v1");
    assert.equal(asCore.message, "Back-off restarting failed container");
    assert.equal(asCore.involvedObject.name, "web");
    assert.equal(asCore.reportingComponent, "kubelet");
    const both = ok(srv.kubectl(["get", "events", "--field-selector", "involvedObject.name=web", "-o", "name"]), "field selector");
    assert.deepEqual(both.trim().split("\n"), ["event/web.1", "event/web.2"]);
    const regarding = JSON.parse(
      ok(srv.kubectl(["get", "--raw", "/apis/events.k8s.io/v1/namespaces/default/events?fieldSelector=regarding.name%3Dweb"]), "regarding selector"),
    );
    assert.equal(regarding.items.length, 2);
    const table = ok(srv.kubectl(["get", "events"]), "kubectl get events");
    assert.match(table, /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE\n/);
    assert.match(table, /Warning\s+BackOff\s+pod\/web\s+Back-off restarting failed container/);
  });

  it("stores every Event with a lease of its TTL (one hour, plus the lease reuse minute)", () => {
    const db = new Database(join(srv.dataDir, "db", "state.db"), { readonly: true });
    try {
      const rows = db
        .prepare("SELECT c.name, l.ttl FROM current c JOIN lease l ON l.id = c.lease WHERE c.name LIKE '/registry/events/%'")
        .all() as { name: string; ttl: number }[];
      assert.equal(rows.length, 2);
      for (const r of rows) assert.equal(r.ttl, 3660);
      // Besides events, only the API servers' own endpoint leases (upstream's /registry/masterleases/<ip>) expire.
      const others = db
        .prepare("SELECT name FROM current WHERE lease != 0 AND name NOT LIKE '/registry/events/%'")
        .all() as { name: string }[];
      assert.ok(others.every((o) => o.name.startsWith("/registry/masterleases/")), `only events and master leases expire: ${others.map((o) => o.name).join(", ")}`);
    } finally {
      db.close();
    }
  });
});
