import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { silentLogger } from "../../machinery/log.js";
import { Forwarder, parseUpstream, resolvConfNameservers } from "./forwarder.js";
import { startFakeUpstream } from "./test-support.js";

describe("forwarder", () => {
  it("parses upstream addresses with and without ports", () => {
    assert.deepEqual(parseUpstream("192.0.2.1"), { host: "192.0.2.1", port: 53 });
    assert.deepEqual(parseUpstream("127.0.0.1:5353"), { host: "127.0.0.1", port: 5353 });
    assert.deepEqual(parseUpstream("fd00::1"), { host: "fd00::1", port: 53 });
    assert.deepEqual(parseUpstream("[fd00::1]:5353"), { host: "fd00::1", port: 5353 });
    assert.throws(() => parseUpstream("dns.example.org"), /not an IP address/);
  });

  it("reads the nameservers of a resolv.conf", () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-dns-"));
    try {
      const path = join(dir, "resolv.conf");
      writeFileSync(path, "# comment\nsearch example.org\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\nnameserver bogus\noptions ndots:2\n");
      assert.deepEqual(resolvConfNameservers(path), [
        { host: "192.0.2.53", port: 53 },
        { host: "fe80::1%eth0", port: 53 },
      ]);
      assert.deepEqual(resolvConfNameservers(join(dir, "missing")), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("moves on to the next upstream when one does not answer", async () => {
    const dead = await startFakeUpstream();
    const live = await startFakeUpstream({ "example.org A": [{ name: "example.org", type: "A", ttl: 60, data: "192.0.2.7" }] });
    dead.silent = true;
    const fwd = new Forwarder({
      upstreams: [
        { host: "127.0.0.1", port: dead.port },
        { host: "127.0.0.1", port: live.port },
      ],
      policy: "sequential",
      timeoutMs: 200,
      logger: silentLogger,
    });
    try {
      for (const tcp of [false, true]) {
        const r = await fwd.query({ type: "query", questions: [{ name: "example.org", type: "A", class: "IN" }] }, tcp);
        assert.deepEqual(
          r?.answers?.map((a) => ("data" in a ? a.data : "")),
          ["192.0.2.7"],
        );
      }
      assert.ok(live.asked.includes("example.org A udp") && live.asked.includes("example.org A tcp"));
      assert.ok(dead.asked.includes("example.org A udp") && dead.asked.includes("example.org A tcp"), "the first upstream was asked first");
      const none = new Forwarder({ upstreams: [{ host: "127.0.0.1", port: dead.port }], timeoutMs: 100, logger: silentLogger });
      assert.equal(await none.query({ type: "query", questions: [{ name: "example.org", type: "A", class: "IN" }] }, false), undefined);
      none.close();
    } finally {
      fwd.close();
      await dead.stop();
      await live.stop();
    }
  });
});
