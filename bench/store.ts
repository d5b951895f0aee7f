/**
 * `npm run bench:store`: the same workload on each store backend, side by side
 * in one run, printed as one JSON line.
 *
 *   creates/s and CAS updates/s at concurrency 1 and 16, a prefix range of
 *   10,000 and 100,000 keys, watch delivery latency p50/p99 with 100 watchers,
 *   and the database size during a Lease-churn run (1,000 keys updated every
 *   simulated second for 20 minutes, compaction on with a 5-minute window).
 *
 * Flags: --smoke (tiny sizes, for CI), --backends sqlite,etcd,memory,
 * --seconds N (length of each throughput window), --churn-minutes N.
 * Progress goes to standard error; only the JSON line goes to standard output.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setMaxListeners } from "node:events";
import { parseArgs } from "node:util";
import { startEtcd } from "../src/storage/backends/etcd/etcd-process.js";
import { EtcdStore } from "../src/storage/backends/etcd/etcd-store.js";
import { openMemoryStore } from "../src/storage/backends/memory/memory-store.js";
import { SqliteStore } from "../src/storage/backends/sqlite/sqlite-store.js";
import { Compactor } from "../src/storage/compactor.js";
import { RevisionMismatchError } from "../src/storage/errors.js";
import type { Store } from "../src/storage/store.js";
import { FakeClock } from "../src/machinery/clock.js";

const { values } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    backends: { type: "string", default: "sqlite,etcd" },
    seconds: { type: "string" },
    "churn-minutes": { type: "string" },
  },
});
const smoke = values.smoke!;
const windowSec = Number(values.seconds ?? (smoke ? 0.3 : 3));
const rangeKeys = smoke ? [100, 1000] : [10_000, 100_000];
const watchers = smoke ? 10 : 100;
const watchWrites = smoke ? 50 : 500;
const churnKeys = smoke ? 50 : 1000;
const churnMinutes = Number(values["churn-minutes"] ?? (smoke ? 2 : 20));
const VALUE = new Uint8Array(256).fill(120);

const say = (msg: string) => process.stderr.write(`bench:store ${msg}\n`);

interface Opened {
  store: Store;
  /** Database size as the backend reports it. */
  size(): Promise<number>;
  close(): Promise<void>;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

/** Runs `op` from `concurrency` loops for the window; returns ops per second. */
async function throughput(concurrency: number, op: (worker: number, i: number) => Promise<unknown>): Promise<number> {
  const end = performance.now() + windowSec * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = 0; performance.now() < end; i++) {
        await op(w, i);
        done++;
      }
    }),
  );
  return Math.round(done / windowSec);
}

async function creates(s: Store, tag: string, concurrency: number): Promise<number> {
  return throughput(concurrency, (w, i) => s.create(`/bench/create-${tag}/${w}/${i}`, VALUE));
}

async function casUpdates(s: Store, tag: string, concurrency: number): Promise<number> {
  const revs: number[] = [];
  for (let w = 0; w < concurrency; w++) revs[w] = (await s.create(`/bench/cas-${tag}/${w}`, VALUE)).revision;
  return throughput(concurrency, async (w) => {
    revs[w] = (await s.update(`/bench/cas-${tag}/${w}`, VALUE, revs[w]!)).revision;
  });
}

async function fill(s: Store, prefix: string, n: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      for (let i = next++; i < n; i = next++) await s.create(`${prefix}${String(i).padStart(7, "0")}`, VALUE);
    }),
  );
}

/** Time to read every key under `prefix` in pages of 10,000 at one revision, as a paged list does. */
async function rangeMs(s: Store, prefix: string, expect: number): Promise<number> {
  const times: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    let seen = 0;
    let page = await s.list(prefix, { limit: 10_000 });
    const revision = page.revision;
    for (;;) {
      seen += page.kvs.length;
      if (!page.more) break;
      page = await s.list(prefix, { limit: 10_000, revision, startKey: page.kvs[page.kvs.length - 1]!.key + "\0" });
    }
    times.push(performance.now() - t0);
    if (seen !== expect) throw new Error(`range saw ${seen} keys, expected ${expect}`);
  }
  return round(times.sort((a, b) => a - b)[1]!);
}

async function watchLatency(s: Store): Promise<{ p50: number; p99: number; watchers: number; events: number }> {
  const ac = new AbortController();
  setMaxListeners(watchers + 10, ac.signal);
  const latencies: number[] = [];
  const expected = watchers * watchWrites;
  let got = 0;
  let allDone!: () => void;
  const done = new Promise<void>((r) => {
    allDone = r;
  });
  for (let i = 0; i < watchers; i++) {
    void (async () => {
      try {
        for await (const batch of s.watch("/bench/watch/", { signal: ac.signal })) {
          const now = performance.now();
          for (const e of batch.events) {
            latencies.push(now - Number(new TextDecoder().decode(e.kv.value)));
            if (++got === expected) allDone();
          }
        }
      } catch (err) {
        say(`watcher failed: ${(err as Error).message}`);
      }
    })();
  }
  await new Promise((r) => setTimeout(r, 200));
  for (let i = 0; i < watchWrites; i++) {
    await s.create(`/bench/watch/${i}`, new TextEncoder().encode(String(performance.now())));
    if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.race([done, new Promise((r) => setTimeout(r, 30_000))]);
  ac.abort();
  latencies.sort((a, b) => a - b);
  return { p50: round(pct(latencies, 50), 2), p99: round(pct(latencies, 99), 2), watchers, events: latencies.length };
}

/** Lease-churn: every simulated second each key gets one CAS update; compaction keeps 5 minutes. */
async function churn(o: Opened, clock: FakeClock): Promise<Record<string, number>> {
  const s = o.store;
  const compactor = new Compactor({ store: s, clock, windowMs: 5 * 60_000, intervalMs: 60_000 });
  const revs: number[] = [];
  for (let k = 0; k < churnKeys; k++) revs[k] = (await s.create(`/registry/leases/kube-node-lease/node-${k}`, VALUE)).revision;
  const sizes: number[] = [];
  const t0 = performance.now();
  for (let sec = 1; sec <= churnMinutes * 60; sec++) {
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let k = next++; k < churnKeys; k = next++) {
          try {
            revs[k] = (await s.update(`/registry/leases/kube-node-lease/node-${k}`, VALUE, revs[k]!)).revision;
          } catch (err) {
            if (!(err instanceof RevisionMismatchError)) throw err;
            revs[k] = err.current.modRevision;
          }
        }
      }),
    );
    clock.advance(1000);
    if (sec % 60 === 0) {
      await compactor.tick();
      sizes.push(await o.size());
      say(`churn minute ${sec / 60}: db ${sizes[sizes.length - 1]} bytes`);
    }
  }
  const half = Math.max(1, Math.floor(churnMinutes / 2));
  const atHalf = sizes[half - 1]!;
  const atEnd = sizes[sizes.length - 1]!;
  return {
    keys: churnKeys,
    minutes: churnMinutes,
    updates: churnKeys * churnMinutes * 60,
    [`dbBytesMin${half}`]: atHalf,
    [`dbBytesMin${churnMinutes}`]: atEnd,
    growthPct: round(((atEnd - atHalf) / atHalf) * 100, 2),
    // Sizes oscillate as the WAL fills and resets; peaks show the plateau
    // better than two samples: the second half's peak against the peak once
    // the 5-minute history window is full.
    ...(churnMinutes > 10
      ? {
          peakBytesMin6toHalf: Math.max(...sizes.slice(5, half)),
          peakBytesSecondHalf: Math.max(...sizes.slice(half)),
          peakGrowthPct: round(((Math.max(...sizes.slice(half)) - Math.max(...sizes.slice(5, half))) / Math.max(...sizes.slice(5, half))) * 100, 2),
        }
      : {}),
    wallSeconds: round((performance.now() - t0) / 1000),
  };
}

async function runBackend(name: string, open: (clock: FakeClock) => Promise<Opened>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  let o = await open(new FakeClock());
  try {
    say(`${name}: creates`);
    out.createsPerSec = { c1: await creates(o.store, "c1", 1), c16: await creates(o.store, "c16", 16) };
    say(`${name}: CAS updates`);
    out.casUpdatesPerSec = { c1: await casUpdates(o.store, "c1", 1), c16: await casUpdates(o.store, "c16", 16) };
    say(`${name}: watch latency`);
    out.watchLatencyMs = await watchLatency(o.store);
    for (const n of rangeKeys) {
      say(`${name}: filling ${n} keys`);
      await fill(o.store, `/bench/range-${n}/`, n);
      out[`range${n >= 1000 ? `${n / 1000}k` : n}Ms`] = await rangeMs(o.store, `/bench/range-${n}/`, n);
    }
  } finally {
    await o.close();
  }
  const clock = new FakeClock();
  o = await open(clock);
  try {
    say(`${name}: churn ${churnKeys} keys for ${churnMinutes} simulated minutes`);
    out.churn = await churn(o, clock);
  } finally {
    await o.close();
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), "skiff-bench-"));
const result: Record<string, unknown> = { bench: "store", smoke, windowSeconds: windowSec };
const stops: (() => Promise<void>)[] = [];
try {
  let n = 0;
  for (const backend of values.backends!.split(",")) {
    if (backend === "sqlite") {
      result.sqlite = await runBackend("sqlite", async (clock) => {
        const s = SqliteStore.open({ path: join(dir, `sqlite-${n++}`, "state.db"), clock });
        return { store: s, size: async () => s.dbSizeBytes(), close: () => s.close() };
      });
    } else if (backend === "memory") {
      result.memory = await runBackend("memory", async (clock) => {
        const s = openMemoryStore({ clock });
        return { store: s, size: async () => 0, close: () => s.close() };
      });
    } else if (backend === "etcd") {
      result.etcd = await runBackend("etcd", async () => {
        const etcd = await startEtcd({ dataDir: join(dir, `etcd-${n++}`) });
        stops.push(() => etcd.stop());
        const s = await EtcdStore.open({ endpoints: [etcd.endpoint] });
        return {
          store: s,
          size: async () => (await s.status()).dbSizeBytes,
          close: async () => {
            await s.close();
            await etcd.stop();
          },
        };
      });
    } else {
      throw new Error(`unknown backend ${backend}; use sqlite, etcd or memory`);
    }
  }
  const sq = result.sqlite as { createsPerSec: { c1: number; c16: number }; casUpdatesPerSec: { c1: number; c16: number } } | undefined;
  const et = result.etcd as typeof sq;
  if (sq && et) {
    result.sqliteOverEtcd = {
      createsC1: round(sq.createsPerSec.c1 / et.createsPerSec.c1, 2),
      createsC16: round(sq.createsPerSec.c16 / et.createsPerSec.c16, 2),
      casC1: round(sq.casUpdatesPerSec.c1 / et.casUpdatesPerSec.c1, 2),
      casC16: round(sq.casUpdatesPerSec.c16 / et.casUpdatesPerSec.c16, 2),
    };
  }
  process.stdout.write(JSON.stringify(result) + "\n");
} finally {
  for (const stop of stops) await stop().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}
