import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ownedRules, parseSavedTable, splitSaveLine } from "./iptables-rules.js";

// What the bridge (ipMasq) and portmap plugins 1.1.1 leave in nat for two sandboxes of network "skx0"
// and one of another network, as iptables-save (nft backend) prints it.
const SAVED = String.raw`# Warning: table ip nat is managed by iptables-nft, do not touch!
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:CNI-670b19569fa63814f86bae78 - [0:0]
:CNI-DN-a0befd7687325150de71e - [0:0]
:CNI-HOSTPORT-DNAT - [0:0]
:CNI-HOSTPORT-MASQ - [0:0]
:CNI-HOSTPORT-SETMARK - [0:0]
:CNI-a0befd7687325150de71e6de - [0:0]
:CNI-ffff - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ
-A POSTROUTING -s 10.199.7.2/32 -m comment --comment "name: \"skx0\" id: \"aaaaaaaaaaaa1111\"" -j CNI-a0befd7687325150de71e6de
-A POSTROUTING -s 10.199.7.3/32 -m comment --comment "name: \"skx0\" id: \"bbbbbbbbbbbb2222\"" -j CNI-670b19569fa63814f86bae78
-A POSTROUTING -s 10.42.0.9/32 -m comment --comment "name: \"cbr0\" id: \"cccc\"" -j CNI-ffff
-A CNI-670b19569fa63814f86bae78 -d 10.199.7.0/24 -m comment --comment "name: \"skx0\" id: \"bbbbbbbbbbbb2222\"" -j ACCEPT
-A CNI-670b19569fa63814f86bae78 ! -d 224.0.0.0/4 -m comment --comment "name: \"skx0\" id: \"bbbbbbbbbbbb2222\"" -j MASQUERADE
-A CNI-DN-a0befd7687325150de71e -s 10.199.7.0/24 -p tcp -m tcp --dport 18080 -j CNI-HOSTPORT-SETMARK
-A CNI-DN-a0befd7687325150de71e -p tcp -m tcp --dport 18080 -j DNAT --to-destination 10.199.7.2:80
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \"skx0\" id: \"aaaaaaaaaaaa1111\"" -m multiport --dports 18080 -j CNI-DN-a0befd7687325150de71e
-A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE
-A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000
-A CNI-a0befd7687325150de71e6de -d 10.199.7.0/24 -m comment --comment "name: \"skx0\" id: \"aaaaaaaaaaaa1111\"" -j ACCEPT
-A CNI-a0befd7687325150de71e6de ! -d 224.0.0.0/4 -m comment --comment "name: \"skx0\" id: \"aaaaaaaaaaaa1111\"" -j MASQUERADE
COMMIT
`;

describe("iptables-rules", () => {
  it("splits save lines honouring quotes and escapes", () => {
    assert.deepEqual(splitSaveLine(String.raw`-A POSTROUTING -m comment --comment "name: \"a b\" id: \"x\"" -j CNI-1`), [
      "-A",
      "POSTROUTING",
      "-m",
      "comment",
      "--comment",
      'name: "a b" id: "x"',
      "-j",
      "CNI-1",
    ]);
    assert.deepEqual(splitSaveLine('-A X --comment ""'), ["-A", "X", "--comment", ""]);
  });

  it("parses chains and rules", () => {
    const t = parseSavedTable(SAVED);
    assert.ok(t.chains.includes("CNI-HOSTPORT-DNAT"));
    assert.ok(t.chains.includes("POSTROUTING"));
    const jump = t.rules.find((r) => r.chain === "POSTROUTING" && r.target === "CNI-a0befd7687325150de71e6de");
    assert.equal(jump?.comment, 'name: "skx0" id: "aaaaaaaaaaaa1111"');
    assert.deepEqual(jump?.args.slice(0, 2), ["-s", "10.199.7.2/32"]);
  });

  it("finds one network's rules and per-sandbox chains, never the shared or another network's", () => {
    const t = parseSavedTable(SAVED);
    const all = ownedRules(t, "skx0");
    assert.deepEqual(all.chains.sort(), ["CNI-670b19569fa63814f86bae78", "CNI-DN-a0befd7687325150de71e", "CNI-a0befd7687325150de71e6de"]);
    assert.ok(all.rules.every((r) => r.comment?.includes('name: "skx0"')));
    assert.ok(!all.rules.some((r) => r.target === "CNI-ffff"));
    const one = ownedRules(t, "skx0", "aaaaaaaaaaaa1111");
    assert.deepEqual(one.chains.sort(), ["CNI-DN-a0befd7687325150de71e", "CNI-a0befd7687325150de71e6de"]);
    assert.equal(ownedRules(t, "skx").rules.length, 0, "a name that is a prefix of ours owns nothing");
  });
});
