import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeClock } from "../../machinery/clock.js";
import { ControllerExpectations, EXPECTATIONS_TIMEOUT_MS, UIDTrackingControllerExpectations } from "./expectations.js";

describe("ControllerExpectations (upstream TestControllerExpectations)", () => {
  it("is satisfied once surpassed, waits for new ones, and gives up on them after the TTL", () => {
    const clock = new FakeClock();
    const ttl = 30_000;
    const e = new ControllerExpectations({ clock, timeoutMs: ttl });
    const key = "default/foobar";
    const [adds, dels] = [10, 30];
    e.setExpectations(key, adds, dels);
    for (let i = 0; i < adds + 1; i++) e.creationObserved(key);
    assert.equal(e.satisfiedExpectations(key), false, "still waiting on deletes");
    for (let i = 0; i < dels + 1; i++) e.deletionObserved(key);

    // Expectations have been surpassed.
    assert.deepEqual(e.getExpectations(key)?.getExpectations(), [-1, -1]);
    assert.equal(e.satisfiedExpectations(key), true);

    // Old expectations are cleared because of the TTL.
    e.setExpectations(key, 1, 2);
    assert.deepEqual(e.getExpectations(key)?.getExpectations(), [1, 2]);
    assert.equal(e.satisfiedExpectations(key), false);
    clock.advance(ttl + 1);
    assert.equal(e.satisfiedExpectations(key), true, "expired");
  });

  it("lets a controller without expectations sync, and lowering absent ones is a no-op", () => {
    const e = new ControllerExpectations({ clock: new FakeClock() });
    assert.equal(e.satisfiedExpectations("ns/none"), true);
    e.creationObserved("ns/none");
    assert.equal(e.getExpectations("ns/none"), undefined);
    e.expectCreations("ns/a", 2);
    e.raiseExpectations("ns/a", 1, 0);
    e.creationObserved("ns/a");
    e.creationObserved("ns/a");
    assert.equal(e.satisfiedExpectations("ns/a"), false);
    e.creationObserved("ns/a");
    assert.equal(e.satisfiedExpectations("ns/a"), true);
    e.deleteExpectations("ns/a");
    assert.equal(e.getExpectations("ns/a"), undefined);
  });

  it("defaults to upstream's 5 minute timeout", () => {
    const clock = new FakeClock();
    const e = new ControllerExpectations({ clock });
    e.expectDeletions("ns/a", 1);
    clock.advance(EXPECTATIONS_TIMEOUT_MS);
    assert.equal(e.satisfiedExpectations("ns/a"), false, "not older than the timeout yet");
    clock.advance(1);
    assert.equal(e.satisfiedExpectations("ns/a"), true);
  });
});

describe("UIDTrackingControllerExpectations (upstream TestUIDExpectations)", () => {
  for (const replicas of [2, 1, 0, 5]) {
    it(`counts each expected pod deletion once (${replicas} replicas)`, () => {
      const u = new UIDTrackingControllerExpectations(new ControllerExpectations({ clock: new FakeClock() }));
      const key = `default/rc-${replicas}`;
      const pods = Array.from({ length: 5 }, (_, i) => `default/pod${i}-rc-${replicas}`);
      u.expectDeletions(key, pods);
      assert.equal(u.satisfiedExpectations(key), false);
      for (const p of pods) {
        u.deletionObserved(key, p);
        // A second observation of the same pod (update, then delete) does not count again.
        u.deletionObserved(key, p);
      }
      assert.deepEqual(u.getExpectations(key)?.getExpectations(), [0, 0]);
      assert.equal(u.satisfiedExpectations(key), true);
      u.deleteExpectations(key);
      assert.equal(u.getUIDs(key), undefined);
    });
  }

  it("ignores deletions of pods it does not wait for", () => {
    const u = new UIDTrackingControllerExpectations();
    u.expectDeletions("ns/rs", ["ns/a"]);
    u.deletionObserved("ns/rs", "ns/b");
    assert.equal(u.satisfiedExpectations("ns/rs"), false);
    u.deletionObserved("ns/rs", "ns/a");
    assert.equal(u.satisfiedExpectations("ns/rs"), true);
  });
});
