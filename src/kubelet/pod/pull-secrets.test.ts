import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { FakePodObjects } from "../volumes/fake-objects.js";
import { pullCredentials } from "./pull-secrets.js";

function b64(v: unknown): string {
  return Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64");
}

function objects(): FakePodObjects {
  const o = new FakePodObjects();
  o.secrets.set("ns/json", {
    metadata: { namespace: "ns", name: "json" },
    type: "kubernetes.io/dockerconfigjson",
    data: {
      ".dockerconfigjson": b64({
        auths: {
          "https://index.docker.io/v1/": { auth: b64("hub:hubpw") },
          "registry.example.com:5000": { username: "u", password: "p" },
          "registry.example.com:5000/team": { username: "team", password: "tp" },
          "*.wild.example": { username: "w", password: "wp" },
        },
      }),
    },
  });
  o.secrets.set("ns/cfg", { metadata: { namespace: "ns", name: "cfg" }, type: "kubernetes.io/dockercfg", data: { ".dockercfg": b64({ "old.example": { auth: b64("o:op") } }) } });
  return o;
}

function pod(...secrets: string[]): Pod {
  return { metadata: { namespace: "ns", name: "p" }, spec: { containers: [], imagePullSecrets: secrets.map((name) => ({ name })) } };
}

describe("pull secrets", () => {
  it("matches by registry host and port, most specific path first", async () => {
    const c = await pullCredentials(pod("json"), "registry.example.com:5000/team/app:1", objects());
    assert.deepEqual(
      c.auths.map((a) => a.username),
      ["team", "u"],
    );
    const other = await pullCredentials(pod("json"), "registry.example.com:5000/other/app:1", objects());
    assert.deepEqual(
      other.auths.map((a) => a.username),
      ["u"],
    );
    const wrongPort = await pullCredentials(pod("json"), "registry.example.com/app:1", objects());
    assert.deepEqual(wrongPort.auths, []);
  });

  it("treats Docker Hub's keys as docker.io and decodes auth", async () => {
    const c = await pullCredentials(pod("json"), "busybox", objects());
    assert.deepEqual(c.auths, [{ username: "hub", password: "hubpw", serverAddress: "https://index.docker.io/v1/" }]);
  });

  it("matches one DNS label per wildcard and reads dockercfg secrets", async () => {
    assert.equal((await pullCredentials(pod("json"), "a.wild.example/x", objects())).auths[0]?.username, "w");
    assert.deepEqual((await pullCredentials(pod("json"), "a.b.wild.example/x", objects())).auths, []);
    assert.equal((await pullCredentials(pod("cfg"), "old.example/x:1", objects())).auths[0]?.password, "op");
  });

  it("names secrets it cannot read", async () => {
    const c = await pullCredentials(pod("gone", "json"), "busybox", objects());
    assert.deepEqual(c.missing, ["gone"]);
    assert.equal(c.auths.length, 1);
  });
});
