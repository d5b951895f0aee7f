import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { EtcdFacts, EtcdMemberFacts } from "./etcd-facts.js";
import { diagnoseEtcd } from "./etcd-health.js";

function member(id: string, name: string, o: { leader?: string; down?: boolean; learner?: boolean; hash?: string } = {}): EtcdMemberFacts {
  return {
    id,
    name,
    clientURLs: [`https://10.0.0.${id}:2379`],
    isLearner: Boolean(o.learner),
    ...(o.down
      ? { error: "14 UNAVAILABLE: No connection established" }
      : { status: { leader: o.leader ?? "1", dbSize: 4 << 20, dbSizeInUse: 2 << 20, raftIndex: 100, revision: 90, version: "3.4.23" } }),
    ...(o.hash ? { hash: { hash: o.hash, compactRevision: 50 } } : {}),
  };
}

function facts(members: EtcdMemberFacts[], extra: Partial<EtcdFacts> = {}): EtcdFacts {
  return { endpoint: "https://127.0.0.1:2379", members, alarms: [], etcdctlFlags: "--endpoints=https://127.0.0.1:2379", ...extra };
}

const three = () => [member("1", "a", { hash: "7" }), member("2", "b", { hash: "7" }), member("3", "c", { hash: "7" })];

describe("diagnoseEtcd", () => {
  test("a healthy cluster gets one info line naming the leader and the hash check", () => {
    const [f] = diagnoseEtcd(facts(three(), { hashRevision: 90 }));
    assert.equal(f!.severity, "info");
    assert.match(f!.cause, /etcd is healthy: 3 voting members, leader a, data identical on every member at revision 90/);
    assert.equal(f!.evidence.length, 3);
  });

  test("no leader: an error saying how many answer and how many are needed", () => {
    const fs = diagnoseEtcd(facts([member("1", "a", { leader: "0" }), member("2", "b", { down: true }), member("3", "c", { down: true })]));
    assert.equal(fs[0]!.severity, "error");
    assert.match(fs[0]!.cause, /etcd has no leader: 1 of 3 voting members answer and 2 are needed/);
    assert.match(fs[0]!.fix, /--cluster-reset/);
  });

  test("one member down of three: a warning that one more failure is not tolerated", () => {
    const fs = diagnoseEtcd(facts([member("1", "a"), member("2", "b"), member("3", "c", { down: true })]));
    assert.equal(fs.length, 1);
    assert.equal(fs[0]!.severity, "warning");
    assert.match(fs[0]!.cause, /etcd member c does not answer; 2 of 3 keep quorum, so the cluster tolerates 0 more failures/);
  });

  test("a learner left over and an even count are warned about", () => {
    const fs = diagnoseEtcd(facts([member("1", "a"), member("2", "b"), member("10", "", { learner: true })]));
    const causes = fs.map((f) => f.cause).join("\n");
    assert.match(causes, /Member 10 is still a learner/);
    assert.match(causes, /etcd has 2 voting members/);
    assert.match(fs.find((f) => /learner/.test(f.cause))!.fix, /member remove a$/);
  });

  test("NOSPACE: an error whose fix compacts, defragments and disarms", () => {
    const fs = diagnoseEtcd(facts(three(), { alarms: [{ member: "b", alarm: "Nospace" }] }));
    const f = fs.find((x) => /NOSPACE/.test(x.cause))!;
    assert.equal(f.severity, "error");
    assert.match(f.fix, /compact .*defrag --cluster.*alarm disarm/);
  });

  test("members whose hashes differ at one revision: an error", () => {
    const m = three();
    m[2] = member("3", "c", { hash: "8" });
    const f = diagnoseEtcd(facts(m, { hashRevision: 90 })).find((x) => /disagree/.test(x.cause))!;
    assert.equal(f.severity, "error");
    assert.deepEqual(f.evidence, ["a: hash 7 (compacted at 50)", "b: hash 7 (compacted at 50)", "c: hash 8 (compacted at 50)"]);
  });

  test("the local member not answering at all", () => {
    const [f] = diagnoseEtcd(facts([], { error: "14 UNAVAILABLE" }));
    assert.equal(f!.severity, "error");
    assert.match(f!.cause, /does not answer \(14 UNAVAILABLE\)/);
  });
});
