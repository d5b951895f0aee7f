import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Status, StatusError } from "../machinery/status-error.js";
import { decodeWatchStream, isExpired, LineSplitter, type WatchEvent, WatchExpiredError } from "./watch.js";

async function* chunks<T>(...parts: T[]): AsyncGenerator<T> {
  for (const p of parts) yield p;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

interface Obj {
  metadata: { name: string };
}

describe("watch line splitting", () => {
  it("splits lines whatever the chunk boundaries", () => {
    const s = new LineSplitter();
    assert.deepEqual(s.push('{"a":'), []);
    assert.deepEqual(s.push('1}\n{"b"'), ['{"a":1}']);
    assert.deepEqual(s.push(":2}\n"), ['{"b":2}']);
    assert.deepEqual(s.push('{"c":3}\r\n\n{"d":4}\n{"e"'), ['{"c":3}', '{"d":4}']);
    assert.equal(s.end(), '{"e"');
    assert.equal(s.end(), undefined);
  });

  it("decodes events split mid-line and mid-character", async () => {
    const line1 = JSON.stringify({ type: "ADDED", object: { metadata: { name: "héllo-ü" } } });
    const line2 = JSON.stringify({ type: "MODIFIED", object: { metadata: { name: "b" } } });
    const bytes = Buffer.from(`${line1}\n${line2}\n`);
    // Cut inside the two-byte "é".
    const cut = bytes.indexOf(Buffer.from("é")) + 1;
    const events = await collect(decodeWatchStream<Obj>(chunks(bytes.subarray(0, cut), bytes.subarray(cut, cut + 7), bytes.subarray(cut + 7))));
    assert.deepEqual(
      events.map((e) => [e.type, (e.object as Obj).metadata.name]),
      [
        ["ADDED", "héllo-ü"],
        ["MODIFIED", "b"],
      ],
    );
  });

  it("decodes a last line without a newline", async () => {
    const events = await collect(decodeWatchStream<Obj>(chunks('{"type":"DELETED","object":{"metadata":{"name":"x"}}}')));
    assert.equal(events.length, 1);
    assert.equal(events[0]!.type, "DELETED");
  });

  it("turns a 410 ERROR event into WatchExpiredError and yields other errors", async () => {
    const gone = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", reason: "Expired", message: "too old resource version: 1 (5)", code: 410 };
    const seen: WatchEvent<Obj>[] = [];
    await assert.rejects(
      (async () => {
        for await (const ev of decodeWatchStream<Obj>(chunks(`{"type":"BOOKMARK","object":{"metadata":{"name":""}}}\n`, `${JSON.stringify({ type: "ERROR", object: gone })}\n`))) {
          seen.push(ev);
        }
      })(),
      (err: unknown) => {
        assert.ok(err instanceof WatchExpiredError);
        assert.ok(err instanceof StatusError);
        assert.equal(isExpired(err), true);
        assert.equal(err.code, 410);
        assert.equal(err.reason, "Expired");
        return true;
      },
    );
    assert.equal(seen.length, 1, "events before the error were delivered");

    const internal = { ...gone, reason: "InternalError", code: 500 };
    const events = await collect(decodeWatchStream<Obj>(chunks(`${JSON.stringify({ type: "ERROR", object: internal })}\n`)));
    assert.equal(events[0]!.type, "ERROR");
    assert.equal(isExpired(new StatusError(internal as Status)), false);
  });

  it("rejects a malformed line", async () => {
    await assert.rejects(collect(decodeWatchStream<Obj>(chunks("{nope\n"))), SyntaxError);
  });
});
