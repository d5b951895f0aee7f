/**
 * Crash durability of the API server: `kill -9` during a write load loses no
 * acknowledged write. Eight writers create ConfigMaps over HTTPS and record
 * every 201; the server is killed by PID mid-load; a new server on the same
 * data dir (its stale server.pid must not block the start) still has every
 * acknowledged object at its acknowledged resourceVersion or later.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { RawClient } from "./support/https-client.js";
import { killHard, type ServerOnDir, startServerOnDir } from "./support/restart.js";

const dataDir = mkdtempSync(join(tmpdir(), "skiff-durability-"));
const servers: ServerOnDir[] = [];

after(async () => {
  for (const s of servers) await s.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const NS = "durable";
const WRITERS = 8;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Ack {
  readonly name: string;
  readonly resourceVersion: number;
  readonly uid: string;
  readonly value: string;
}

describe("kill -9 during a write load", () => {
  it("loses no acknowledged write, and the dead server's pid file does not block a restart", async (t) => {
    const first = await startServerOnDir(dataDir);
    servers.push(first);
    const api1 = RawClient.fromKubeconfig(first.kubeconfig, first.port);
    const ns = await api1.post("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
    assert.equal(ns.code, 201, ns.text);

    const acked: Ack[] = [];
    const refused: string[] = [];
    let killed = false;
    let stopping = false;
    const writer = async (w: number) => {
      let errors = 0;
      for (let n = 0; !stopping; n++) {
        const name = `w${w}-${n}`;
        const value = `${w}:${n}:${"d".repeat(64)}`;
        try {
          const r = await api1.post(`/api/v1/namespaces/${NS}/configmaps`, { apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data: { value } });
          if (r.code === 201) {
            acked.push({ name, value, uid: r.json!.metadata!.uid!, resourceVersion: Number(r.json!.metadata!.resourceVersion) });
          } else {
            refused.push(`${name}: ${r.code} ${r.text}`);
          }
        } catch (err) {
          // Connection errors are expected once the server is dead; before that they are a failure.
          if (!killed) refused.push(`${name}: ${(err as Error).message}`);
          if (++errors > 3 || killed) return;
        }
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));

    // Let the load run, then kill the server by its PID.
    await sleep(2000);
    const pid = first.process.pid!;
    assert.equal(readFileSync(join(dataDir, "server.pid"), "utf8").trim(), String(pid), "server.pid names the running server");
    killed = true;
    await killHard(first.process);
    stopping = true;
    await Promise.all(writers);
    assert.equal(first.process.signalCode, "SIGKILL");
    t.diagnostic(`acknowledged ${acked.length} creates before SIGKILL`);
    assert.deepEqual(refused, [], "writes refused while the server was up");
    assert.ok(acked.length >= WRITERS, `too few acknowledged writes to mean anything: ${acked.length}`);
    // SIGKILL gave the server no chance to remove its pid file: the restart must see it is stale.
    assert.ok(existsSync(join(dataDir, "server.pid")), "the killed server's server.pid is left behind");

    const second = await startServerOnDir(dataDir);
    servers.push(second);
    assert.notEqual(second.process.pid, pid);
    assert.equal(readFileSync(join(dataDir, "server.pid"), "utf8").trim(), String(second.process.pid));
    const api2 = RawClient.fromKubeconfig(second.kubeconfig, second.port);
    const ready = await api2.get("/readyz");
    assert.equal(ready.code, 200, ready.text);

    const list = await api2.get(`/api/v1/namespaces/${NS}/configmaps`);
    assert.equal(list.code, 200, list.text);
    const stored = new Map(list.json!.items!.map((i) => [i.metadata!.name!, i]));
    const lost: string[] = [];
    for (const a of acked) {
      const obj = stored.get(a.name);
      if (!obj) {
        lost.push(`${a.name} (acknowledged at resourceVersion ${a.resourceVersion})`);
        continue;
      }
      assert.equal(obj.metadata!.uid, a.uid, `${a.name}: uid changed`);
      assert.equal(obj.data?.value, a.value, `${a.name}: data changed`);
      assert.ok(Number(obj.metadata!.resourceVersion) >= a.resourceVersion, `${a.name}: resourceVersion ${obj.metadata!.resourceVersion} < acknowledged ${a.resourceVersion}`);
    }
    assert.deepEqual(lost, [], `${lost.length} of ${acked.length} acknowledged writes were lost`);

    // Resource versions keep growing after the restart: nothing acknowledged is reused.
    const maxAcked = Math.max(...acked.map((a) => a.resourceVersion));
    assert.ok(Number(list.json!.metadata!.resourceVersion) >= maxAcked);
    const later = await api2.post(`/api/v1/namespaces/${NS}/configmaps`, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "after-restart" } });
    assert.equal(later.code, 201, later.text);
    assert.ok(Number(later.json!.metadata!.resourceVersion) > maxAcked, `new write got resourceVersion ${later.json!.metadata!.resourceVersion} <= ${maxAcked}`);
    // An acknowledged object is readable on its own and can be updated with its stored version.
    const sample = acked[0]!;
    const got = await api2.get(`/api/v1/namespaces/${NS}/configmaps/${sample.name}`);
    assert.equal(got.code, 200, got.text);
    const put = await api2.put(`/api/v1/namespaces/${NS}/configmaps/${sample.name}`, { ...got.json, data: { value: "updated" } });
    assert.equal(put.code, 200, put.text);

    await second.stop();
    assert.equal(second.process.exitCode, 0, `the restarted server did not stop cleanly:\n${second.log().slice(-2000)}`);
    assert.ok(!existsSync(join(dataDir, "server.pid")), "a cleanly stopped server removes its server.pid");
  });
});
