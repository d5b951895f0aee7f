import assert from "node:assert/strict";
import { test } from "node:test";
import { CycleState } from "../../framework/cycle-state.js";
import { NodeInfo } from "../../framework/node-info.js";
import { Code } from "../../framework/status.js";
import { makeNode, makePod } from "../../testing/wrappers.js";
import { ErrReason, NodeName } from "./node-name.js";

test("NodeName Filter", () => {
  const ni = new NodeInfo();
  ni.setNode(makeNode("foo").obj());
  const cases: { name: string; nodeName?: string; want?: string }[] = [
    { name: "no host specified" },
    { name: "host matches", nodeName: "foo" },
    { name: "host doesn't match", nodeName: "bar", want: ErrReason },
  ];
  for (const c of cases) {
    const w = makePod("p");
    if (c.nodeName) w.node(c.nodeName);
    const s = new NodeName().filter(new CycleState(), w.obj(), ni);
    if (!c.want) assert.equal(s, null, c.name);
    else {
      assert.equal(s?.code, Code.UnschedulableAndUnresolvable, c.name);
      assert.equal(s?.message(), "node(s) didn't match the requested node name", c.name);
    }
  }
});
