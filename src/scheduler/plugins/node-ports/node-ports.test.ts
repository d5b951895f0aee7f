import assert from "node:assert/strict";
import { test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { CycleState } from "../../framework/cycle-state.js";
import { NodeInfo } from "../../framework/node-info.js";
import { Code } from "../../framework/status.js";
import { makeNode, makePod } from "../../testing/wrappers.js";
import { NodePorts } from "./node-ports.js";

const withPorts = (...ports: [string, number, string][]): Pod => {
  const w = makePod(`p${Math.random()}`);
  for (const [proto, port, ip] of ports) w.hostPort(port, proto, ip);
  return w.obj();
};

// upstream TestNodePorts
test("NodePorts PreFilter and Filter", () => {
  const cases: { name: string; pod: Pod; existing: Pod[]; want?: string; skip?: boolean }[] = [
    { name: "nothing running", pod: withPorts(["UDP", 8080, "127.0.0.1"]), existing: [] },
    { name: "other port", pod: withPorts(["UDP", 8080, "127.0.0.1"]), existing: [withPorts(["UDP", 9090, "127.0.0.1"])] },
    {
      name: "same udp port",
      pod: withPorts(["UDP", 8080, "127.0.0.1"]),
      existing: [withPorts(["UDP", 8080, "127.0.0.1"])],
      want: "node(s) didn't have free ports for the requested pod ports",
    },
    {
      name: "same tcp port",
      pod: withPorts(["TCP", 8080, "127.0.0.1"]),
      existing: [withPorts(["TCP", 8080, "127.0.0.1"])],
      want: "node(s) didn't have free ports for the requested pod ports",
    },
    { name: "different host ip", pod: withPorts(["TCP", 8080, "127.0.0.1"]), existing: [withPorts(["TCP", 8080, "127.0.0.2"])] },
    { name: "different protocol", pod: withPorts(["UDP", 8080, "127.0.0.1"]), existing: [withPorts(["TCP", 8080, "127.0.0.1"])] },
    {
      name: "second udp port conflict",
      pod: withPorts(["UDP", 8000, "127.0.0.1"], ["UDP", 8080, "127.0.0.1"]),
      existing: [withPorts(["UDP", 8080, "127.0.0.1"])],
      want: "node(s) didn't have free ports for the requested pod ports",
    },
    {
      name: "first tcp port conflict due to 0.0.0.0 hostIP",
      pod: withPorts(["TCP", 8001, "0.0.0.0"], ["UDP", 8080, "127.0.0.1"]),
      existing: [withPorts(["TCP", 8001, "127.0.0.1"])],
      want: "node(s) didn't have free ports for the requested pod ports",
    },
    {
      name: "TCP hostPort conflict due to 0.0.0.0 hostIP",
      pod: withPorts(["TCP", 8001, "10.0.10.10"], ["TCP", 8001, "127.0.0.1"]),
      existing: [withPorts(["TCP", 8001, "0.0.0.0"])],
      want: "node(s) didn't have free ports for the requested pod ports",
    },
    { name: "second different protocol", pod: withPorts(["UDP", 8001, "0.0.0.0"]), existing: [withPorts(["TCP", 8001, "0.0.0.0"])] },
    { name: "a pod without host ports skips the plugin", pod: makePod("p").req({}).obj(), existing: [], skip: true },
  ];
  for (const c of cases) {
    const ni = new NodeInfo(...c.existing);
    ni.setNode(makeNode("n").obj());
    const pl = new NodePorts();
    const state = new CycleState();
    const pre = pl.preFilter(state, c.pod);
    assert.equal(pre.status?.code === Code.Skip, !!c.skip, c.name);
    if (c.skip) continue;
    const s = pl.filter(state, c.pod, ni);
    if (!c.want) assert.equal(s, null, c.name);
    else {
      assert.equal(s?.code, Code.Unschedulable, c.name);
      assert.equal(s?.message(), c.want, c.name);
    }
  }
  assert.equal(new NodePorts().filter(new CycleState(), makePod("p").obj(), new NodeInfo())?.message(), 'reading "PreFilterNodePorts" from cycleState: not found');
});
