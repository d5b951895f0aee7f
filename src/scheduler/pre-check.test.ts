import assert from "node:assert/strict";
import { test } from "node:test";
import { NodeInfo } from "./framework/node-info.js";
import { admissionCheck, preCheckForNode } from "./pre-check.js";
import { makeNode, makePod } from "./testing/wrappers.js";

test("preCheckForNode keeps pods that could not run on the node from moving", () => {
  const ni = new NodeInfo(makePod("busy").hostPort(80).obj());
  ni.setNode(makeNode("n").labels({ zone: "a" }).capacity({ cpu: "2" }).taints([{ key: "dedicated", value: "x", effect: "NoSchedule" }]).obj());
  const tolerant = { key: "dedicated", operator: "Exists" as const };
  const cases: { name: string; pod: ReturnType<typeof makePod>; want: boolean; reasons?: string[] }[] = [
    { name: "fits", pod: makePod("p").req({ cpu: "1" }).toleration(tolerant), want: true, reasons: [] },
    { name: "too big", pod: makePod("p").req({ cpu: "3" }).toleration(tolerant), want: false, reasons: ["Insufficient cpu"] },
    { name: "selector mismatch", pod: makePod("p").nodeSelector({ zone: "b" }).toleration(tolerant), want: false, reasons: ["node(s) didn't match Pod's node affinity/selector"] },
    { name: "other node name", pod: makePod("p").node("m").toleration(tolerant), want: false, reasons: ["node(s) didn't match the requested node name"] },
    { name: "port taken", pod: makePod("p").hostPort(80).toleration(tolerant), want: false, reasons: ["node(s) didn't have free ports for the requested pod ports"] },
    { name: "untolerated NoSchedule taint", pod: makePod("p"), want: false, reasons: [] },
  ];
  for (const c of cases) {
    const pod = c.pod.obj();
    assert.equal(preCheckForNode(ni)(pod), c.want, c.name);
    const reasons = admissionCheck(pod, ni, true).map((r) => r.reason ?? r.insufficientResource?.reason);
    assert.deepEqual(reasons, c.reasons, c.name);
  }
});
