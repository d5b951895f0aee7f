import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Answer, DecodedPacket } from "dns-packet";
import { AnswerCache, cacheKey } from "./answer-cache.js";

function reply(rcode: string, answers: Answer[], authorities: Answer[] = [], flags = 0x80): DecodedPacket {
  return {
    id: 1,
    type: "response",
    flags,
    rcode,
    flag_qr: true,
    flag_aa: false,
    flag_tc: false,
    flag_rd: true,
    flag_ra: true,
    flag_z: false,
    flag_ad: false,
    flag_cd: false,
    questions: [{ name: "example.org", type: "A" }],
    answers,
    authorities,
    additionals: [],
  } as DecodedPacket;
}
const a = (ttl: number): Answer => ({ name: "example.org", type: "A", ttl, data: "192.0.2.1" });
const soa = (ttl: number, minimum: number): Answer => ({ name: "example.org", type: "SOA", ttl, data: { mname: "ns", rname: "host", minimum } });

describe("forwarder cache (CoreDNS cache 30)", () => {
  it("keeps an answer for its TTL capped at 30 s, counting the TTL down", () => {
    let now = 0;
    const cache = new AnswerCache({ now: () => now });
    const key = cacheKey("Example.ORG.", "A", "IN", false, false);
    assert.equal(key, cacheKey("example.org", "A", "IN", false, false), "names compare without case or trailing dot");
    cache.put(key, reply("NOERROR", [a(300)]));
    assert.equal((cache.get(key)?.answers[0] as { ttl: number } | undefined)?.ttl, 30);
    now = 12_000;
    assert.equal((cache.get(key)?.answers[0] as { ttl: number } | undefined)?.ttl, 18);
    now = 30_000;
    assert.equal(cache.get(key), undefined);
    assert.equal(cache.size, 0);
  });

  it("keeps short TTLs at least 5 s and denials for the SOA's negative TTL", () => {
    let now = 0;
    const cache = new AnswerCache({ now: () => now });
    cache.put("short", reply("NOERROR", [a(1)]));
    cache.put("nx", reply("NXDOMAIN", [], [soa(60, 10)]));
    cache.put("nodata", reply("NOERROR", [], [soa(3, 60)]));
    now = 4_000;
    assert.ok(cache.get("short"));
    assert.equal(cache.get("nx")?.rcode, "NXDOMAIN");
    assert.ok(cache.get("nodata"), "a 3 s SOA TTL is raised to the 5 s minimum");
    now = 9_000;
    assert.equal(cache.get("short"), undefined);
    assert.ok(cache.get("nx"));
    now = 10_000;
    assert.equal(cache.get("nx"), undefined);
  });

  it("does not keep failures or truncated answers, and drops the oldest when full", () => {
    const cache = new AnswerCache({ capacity: 2 });
    cache.put("fail", reply("SERVFAIL", []));
    cache.put("tc", { ...reply("NOERROR", [a(60)]), flag_tc: true });
    assert.equal(cache.size, 0);
    cache.put("one", reply("NOERROR", [a(60)]));
    cache.put("two", reply("NOERROR", [a(60)]));
    cache.put("three", reply("NOERROR", [a(60)]));
    assert.equal(cache.get("one"), undefined);
    assert.ok(cache.get("two") && cache.get("three"));
  });
});
