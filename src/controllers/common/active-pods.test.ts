import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import {
  activePodsWithRanksLess,
  getDeletionCostFromPodAnnotations,
  POD_DELETION_COST,
  type RankedPod,
  type RankingFeatures,
  sortActivePods,
} from "./active-pods.js";
import { rfc3339 } from "./time.js";

const HOUR = 3_600_000;
const now = Date.UTC(2024, 5, 15, 12, 0, 0);
const monthAgo = Date.UTC(2024, 4, 15, 12, 0, 0);

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe("sortActivePods (upstream TestSortingActivePods)", () => {
  const t = (ms: number) => rfc3339(ms);
  const running = (name: string, ready: { since?: number } | undefined, restarts: number[], created?: number): Pod => ({
    metadata: { name, ...(created !== undefined ? { creationTimestamp: t(created) } : {}) },
    spec: { nodeName: "foo", containers: [] },
    status: {
      phase: "Running",
      ...(ready ? { conditions: [{ type: "Ready", status: "True", ...(ready.since !== undefined ? { lastTransitionTime: t(ready.since) } : {}) }] } : {}),
      containerStatuses: restarts.map((restartCount, i) => ({ name: `c${i}`, image: "i", imageID: "", ready: true, restartCount })),
    },
  });
  const pods: Pod[] = [
    { metadata: { name: "unscheduled" }, spec: { nodeName: "", containers: [] }, status: { phase: "Pending" } },
    { metadata: { name: "scheduledButPending" }, spec: { nodeName: "bar", containers: [] }, status: { phase: "Pending" } },
    { metadata: { name: "unknownPhase" }, spec: { nodeName: "foo", containers: [] }, status: { phase: "Unknown" } },
    { metadata: { name: "runningButNotReady" }, spec: { nodeName: "foo", containers: [] }, status: { phase: "Running" } },
    running("runningNoLastTransitionTime", {}, [3, 0]),
    running("runningWithLastTransitionTime", { since: now }, [3, 0]),
    running("runningLongerTime", { since: monthAgo }, [3, 0]),
    running("lowerContainerRestartCount", { since: monthAgo }, [2, 1], now),
    running("oldest", { since: monthAgo }, [2, 1], monthAgo),
  ];
  it("sorts by scheduling, phase, readiness, ready time, restarts and age, whatever the input order", () => {
    for (let i = 0; i < 20; i++) {
      const got = sortActivePods(shuffled(pods)).map((p) => p.metadata?.name);
      assert.deepEqual(got, pods.map((p) => p.metadata?.name));
    }
  });
});

describe("activePodsWithRanksLess (upstream TestSortingActivePodsWithRanks)", () => {
  const ZERO = 0;
  const pod = (name: string, node: string, phase: string, ready: boolean, restarts: number, readySince: number, created: number, annotations?: Record<string, string>): Pod => ({
    metadata: { name, ...(created ? { creationTimestamp: rfc3339(created) } : {}), ...(annotations ? { annotations } : {}) },
    spec: { nodeName: node, containers: [] },
    status: {
      phase,
      ...(ready
        ? {
            conditions: [{ type: "Ready", status: "True", ...(readySince ? { lastTransitionTime: rfc3339(readySince) } : {}) }],
            containerStatuses: [{ name: "c", image: "i", imageID: "", ready: true, restartCount: restarts }],
          }
        : {}),
    },
  });
  const then2Hours = now - 2 * HOUR;
  const then5Hours = now - 5 * HOUR;
  const then8Hours = now - 8 * HOUR;
  const unscheduledPod = pod("unscheduled", "", "Pending", false, 0, ZERO, ZERO);
  const scheduledPendingPod = pod("pending", "node", "Pending", false, 0, ZERO, ZERO);
  const unknownPhasePod = pod("unknown-phase", "node", "Unknown", false, 0, ZERO, ZERO);
  const runningNotReadyPod = pod("not-ready", "node", "Running", false, 0, ZERO, ZERO);
  const runningReadyNoLastTransitionTimePod = pod("ready-no-last-transition-time", "node", "Running", true, 0, ZERO, ZERO);
  const runningReadyNow = pod("ready-now", "node", "Running", true, 0, now, now);
  const runningReadyThen = pod("ready-then", "node", "Running", true, 0, monthAgo, monthAgo);
  const runningReadyNowHighRestarts = pod("ready-high-restarts", "node", "Running", true, 9001, now, now);
  const runningReadyNowCreatedThen = pod("ready-now-created-then", "node", "Running", true, 0, now, monthAgo);
  const lowPodDeletionCost = pod("low-deletion-cost", "node", "Running", true, 0, now, monthAgo, { [POD_DELETION_COST]: "10" });
  const highPodDeletionCost = pod("high-deletion-cost", "node", "Running", true, 0, now, monthAgo, { [POD_DELETION_COST]: "100" });
  const unscheduled5Hours = pod("unscheduled-5-hours", "", "Pending", false, 0, then5Hours, then5Hours);
  const unscheduled8Hours = pod("unscheduled-10-hours", "", "Pending", false, 0, then8Hours, then8Hours);
  const ready2Hours = pod("ready-2-hours", "", "Running", true, 0, then2Hours, monthAgo);
  const ready5Hours = pod("ready-5-hours", "", "Running", true, 0, then5Hours, monthAgo);
  const ready10Hours = pod("ready-10-hours", "", "Running", true, 0, then8Hours, monthAgo);

  const equality: { p1: Pod; p2?: Pod }[] = [
    { p1: unscheduledPod },
    { p1: scheduledPendingPod },
    { p1: unknownPhasePod },
    { p1: runningNotReadyPod },
    { p1: runningReadyNowCreatedThen },
    { p1: runningReadyNow },
    { p1: runningReadyThen },
    { p1: runningReadyNowHighRestarts },
    { p1: runningReadyNowCreatedThen },
    { p1: unscheduled5Hours, p2: unscheduled8Hours },
    { p1: ready5Hours, p2: ready10Hours },
  ];
  for (const [i, c] of equality.entries()) {
    it(`equality ${i}: ${c.p1.metadata?.name} ~ ${(c.p2 ?? c.p1).metadata?.name}`, () => {
      const a: RankedPod = { pod: c.p1, rank: 1 };
      const b: RankedPod = { pod: c.p2 ?? c.p1, rank: 1 };
      assert.equal(activePodsWithRanksLess(a, b, now), false);
      assert.equal(activePodsWithRanksLess(b, a, now), false);
    });
  }

  const inequality: { lesser: RankedPod; greater: RankedPod; features?: RankingFeatures }[] = [
    { lesser: { pod: unscheduledPod, rank: 1 }, greater: { pod: scheduledPendingPod, rank: 2 } },
    { lesser: { pod: unscheduledPod, rank: 2 }, greater: { pod: scheduledPendingPod, rank: 1 } },
    { lesser: { pod: scheduledPendingPod, rank: 1 }, greater: { pod: unknownPhasePod, rank: 2 } },
    { lesser: { pod: unknownPhasePod, rank: 1 }, greater: { pod: runningNotReadyPod, rank: 2 } },
    { lesser: { pod: runningNotReadyPod, rank: 1 }, greater: { pod: runningReadyNoLastTransitionTimePod, rank: 1 } },
    { lesser: { pod: runningReadyNoLastTransitionTimePod, rank: 1 }, greater: { pod: runningReadyNow, rank: 1 } },
    { lesser: { pod: runningReadyNow, rank: 2 }, greater: { pod: runningReadyNoLastTransitionTimePod, rank: 1 } },
    { lesser: { pod: runningReadyNow, rank: 1 }, greater: { pod: runningReadyThen, rank: 1 } },
    { lesser: { pod: runningReadyNow, rank: 2 }, greater: { pod: runningReadyThen, rank: 1 } },
    { lesser: { pod: runningReadyNowHighRestarts, rank: 1 }, greater: { pod: runningReadyNow, rank: 1 } },
    { lesser: { pod: runningReadyNow, rank: 2 }, greater: { pod: runningReadyNowHighRestarts, rank: 1 } },
    { lesser: { pod: runningReadyNow, rank: 1 }, greater: { pod: runningReadyNowCreatedThen, rank: 1 } },
    { lesser: { pod: runningReadyNowCreatedThen, rank: 2 }, greater: { pod: runningReadyNow, rank: 1 } },
    { lesser: { pod: lowPodDeletionCost, rank: 2 }, greater: { pod: highPodDeletionCost, rank: 1 } },
    { lesser: { pod: highPodDeletionCost, rank: 2 }, greater: { pod: lowPodDeletionCost, rank: 1 }, features: { podDeletionCost: false } },
    { lesser: { pod: ready2Hours, rank: 1 }, greater: { pod: ready5Hours, rank: 1 } },
  ];
  for (const [i, c] of inequality.entries()) {
    it(`inequality ${i}: ${c.lesser.pod.metadata?.name}/${c.lesser.rank} < ${c.greater.pod.metadata?.name}/${c.greater.rank}`, () => {
      assert.equal(activePodsWithRanksLess(c.lesser, c.greater, now, c.features), true);
      assert.equal(activePodsWithRanksLess(c.greater, c.lesser, now, c.features), false);
    });
  }

  it("without logarithmic scale-down, any ready-time difference counts", () => {
    const a: RankedPod = { pod: ready5Hours, rank: 1 };
    const b: RankedPod = { pod: ready10Hours, rank: 1 };
    assert.equal(activePodsWithRanksLess(a, b, now, { logarithmicScaleDown: false }), true);
    assert.equal(activePodsWithRanksLess(b, a, now, { logarithmicScaleDown: false }), false);
  });

  it("breaks log-scale ties by UID", () => {
    const a: RankedPod = { pod: { ...ready5Hours, metadata: { ...ready5Hours.metadata, uid: "a" } }, rank: 1 };
    const b: RankedPod = { pod: { ...ready10Hours, metadata: { ...ready10Hours.metadata, uid: "b" } }, rank: 1 };
    assert.equal(activePodsWithRanksLess(a, b, now), true);
    assert.equal(activePodsWithRanksLess(b, a, now), false);
  });
});

describe("getDeletionCostFromPodAnnotations", () => {
  const cases: [string | undefined, number][] = [
    [undefined, 0],
    ["0", 0],
    ["10", 10],
    ["-10", -10],
    ["2147483647", 2147483647],
    ["-2147483648", -2147483648],
    ["+10", 0],
    ["008", 0],
    ["2147483648", 0],
    ["1.5", 0],
    ["", 0],
    ["-", 0],
    ["ten", 0],
  ];
  for (const [value, want] of cases) {
    it(`${JSON.stringify(value)} → ${want}`, () => {
      assert.equal(getDeletionCostFromPodAnnotations(value === undefined ? {} : { [POD_DELETION_COST]: value }), want);
    });
  }
});
