import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TerminalSizeDecoder } from "./resize.js";

describe("TerminalSizeDecoder", () => {
  it("decodes objects back to back, split anywhere, names in any case", () => {
    const d = new TerminalSizeDecoder();
    assert.deepEqual(d.push('{"Width":80,"He'), []);
    assert.deepEqual(d.push('ight":24}\n  {"height":40,"width":120}{"Wid'), [
      { width: 80, height: 24 },
      { width: 120, height: 40 },
    ]);
    assert.deepEqual(d.push('th":1,"Height":2,"x":"}{"}'), [{ width: 1, height: 2 }]);
  });

  it("rejects what Go's decoder rejects", () => {
    assert.throws(() => new TerminalSizeDecoder().push("[1]"), /looking for beginning of value/);
    assert.throws(() => new TerminalSizeDecoder().push('{"Width":-1,"Height":2}'), /uint16/);
    assert.throws(() => new TerminalSizeDecoder().push('{"Width":70000,"Height":2}'), /uint16/);
  });
});
