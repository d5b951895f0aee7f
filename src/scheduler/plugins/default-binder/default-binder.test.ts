import assert from "node:assert/strict";
import { test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { CycleState } from "../../framework/cycle-state.js";
import { Code } from "../../framework/status.js";
import { testFramework } from "../../testing/framework-helpers.js";
import { makePod } from "../../testing/wrappers.js";
import { DefaultBinder } from "./default-binder.js";

test("DefaultBinder binds through the handle's bind function", async () => {
  const cases: { name: string; fail?: string; want?: string }[] = [{ name: "successful" }, { name: "binding error", fail: "binding error", want: "binding error" }];
  for (const c of cases) {
    const calls: [string, string][] = [];
    const bind = async (pod: Pod, node: string) => {
      calls.push([pod.metadata!.name!, node]);
      if (c.fail) throw new Error(c.fail);
    };
    const s = await new DefaultBinder(testFramework({}, { bind })).bind(new CycleState(), makePod("foo").obj(), "foohost.kubernetes.mydomain.com");
    assert.deepEqual(calls, [["foo", "foohost.kubernetes.mydomain.com"]], c.name);
    if (!c.want) assert.equal(s, null, c.name);
    else {
      assert.equal(s?.code, Code.Error, c.name);
      assert.equal(s?.message(), c.want, c.name);
    }
  }
});
