import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as dnsPacket from "dns-packet";
import type { Answer, Packet } from "dns-packet";
import { truncateReply } from "./truncate.js";

const opt: Answer = { name: ".", type: "OPT", udpPayloadSize: 700, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] };
function big(n: number, withOpt: boolean): Packet {
  return {
    id: 1,
    type: "response",
    flags: dnsPacket.AUTHORITATIVE_ANSWER,
    questions: [{ name: "big.default.svc.cluster.local", type: "A" }],
    answers: Array.from({ length: n }, (_, i) => ({ name: "big.default.svc.cluster.local", type: "A" as const, ttl: 5, data: `10.42.0.${i + 1}` })),
    additionals: withOpt ? [opt] : [],
  };
}

describe("truncation (miekg/dns Msg.Truncate)", () => {
  it("leaves a reply that fits alone", () => {
    const p = big(3, false);
    assert.equal(truncateReply(p, 512), false);
    assert.equal(p.answers?.length, 3);
    assert.equal((p.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE, 0);
  });

  it("drops whole records to fit, sets TC and keeps the OPT record", () => {
    const p = big(40, true);
    assert.equal(truncateReply(p, 700), true);
    assert.ok((p.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE);
    assert.ok(dnsPacket.encodingLength(p) <= 700);
    assert.ok((p.answers?.length ?? 0) > 0 && (p.answers?.length ?? 0) < 40);
    assert.equal(p.additionals?.at(-1)?.type, "OPT");
    // One more record would not have fitted.
    const one = big((p.answers?.length ?? 0) + 1, true);
    assert.ok(dnsPacket.encodingLength(one) > 700);
  });

  it("treats sizes below 512 as 512", () => {
    const p = big(40, false);
    truncateReply(p, 100);
    assert.ok(dnsPacket.encodingLength(p) <= 512 && dnsPacket.encodingLength(p) > 400);
  });
});
