import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCommand, parsePortHeader, parsePorts, parseStreamOptions } from "./options.js";

const q = (s: string) => new URLSearchParams(s);

describe("streaming request options", () => {
  it("reads the kubelet's `1` and the clients' `true`; tty drops stderr", () => {
    assert.deepEqual(parseStreamOptions(q("stdin=1&stdout=true&stderr=1&tty=1")), {
      ok: true,
      value: { stdin: true, stdout: true, stderr: false, tty: true },
    });
    assert.deepEqual(parseStreamOptions(q("stdout=yes")), { ok: false, message: "you must specify at least 1 of stdin, stdout, stderr" });
  });

  it("requires a command", () => {
    assert.deepEqual(parseCommand(q("command=sh&command=-c&command=exit%203")), { ok: true, value: ["sh", "-c", "exit 3"] });
    assert.equal(parseCommand(q("stdout=1")).ok, false);
  });

  it("parses ports as portforward.NewV4Options, in either query form", () => {
    assert.deepEqual(parsePorts(q("port=80&port=8080,9090")), { ok: true, value: [80, 8080, 9090] });
    assert.deepEqual(parsePorts(q("ports=443")), { ok: true, value: [443] });
    assert.deepEqual(parsePorts(q("")), { ok: false, message: 'query parameter "port" is required' });
    assert.deepEqual(parsePorts(q("port=")), { ok: false, message: 'query parameter "port" cannot be empty' });
    assert.deepEqual(parsePorts(q("port=0")), { ok: false, message: 'port "0" must be > 0' });
    assert.deepEqual(parsePorts(q("port=http")), { ok: false, message: 'unable to parse "http" as a port: strconv.ParseUint: parsing "http": invalid syntax' });
    assert.deepEqual(parsePorts(q("port=70000")), {
      ok: false,
      message: 'unable to parse "70000" as a port: strconv.ParseUint: parsing "70000": value out of range',
    });
    assert.deepEqual(parsePortHeader(""), { ok: false, message: '"port" header is required' });
  });
});
