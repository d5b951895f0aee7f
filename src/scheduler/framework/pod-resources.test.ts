import assert from "node:assert/strict";
import { test } from "node:test";
import { makePod } from "../testing/wrappers.js";
import { calculatePodResource, computePodResourceRequest, NON_ZERO_DEFAULTS, podRequests } from "./pod-resources.js";

const obj = (m: Map<string, number>) => Object.fromEntries([...m].sort());

test("podRequests: max(sum of containers, each init step) plus sidecars and overhead", () => {
  const cases: { name: string; pod: ReturnType<typeof makePod>; want: Record<string, number> }[] = [
    { name: "no containers", pod: makePod("p"), want: {} },
    { name: "sum of containers", pod: makePod("p").req({ cpu: "1", memory: "1Gi" }).req({ cpu: "500m", memory: "512Mi" }), want: { cpu: 1500, memory: 1610612736 } },
    {
      name: "an init container larger than the sum wins per resource",
      pod: makePod("p").req({ cpu: "1", memory: "1Gi" }).initReq({ cpu: "2", memory: "100Mi" }),
      want: { cpu: 2000, memory: 1073741824 },
    },
    {
      name: "sidecars add to the steady state and to later init steps",
      // Regular: 1 cpu; sidecar 1: 500m (steady 1.5); init after sidecar: 1 + 500m = 1.5; sidecar 2: 200m (steady 1.7).
      pod: makePod("p").req({ cpu: "1" }).initReq({ cpu: "500m" }, true).initReq({ cpu: "1" }).initReq({ cpu: "200m" }, true),
      want: { cpu: 1700 },
    },
    {
      name: "an init container after a sidecar counts the sidecar",
      pod: makePod("p").req({ cpu: "100m" }).initReq({ cpu: "1" }, true).initReq({ cpu: "2" }),
      want: { cpu: 3000 },
    },
    { name: "overhead is added", pod: makePod("p").req({ cpu: "1" }).overhead({ cpu: "250m", memory: "120Mi" }), want: { cpu: 1250, memory: 125829120 } },
    { name: "extended resources are summed", pod: makePod("p").req({ "example.com/gpu": "1" }).req({ "example.com/gpu": "2" }), want: { "example.com/gpu": 3 } },
  ];
  for (const c of cases) assert.deepEqual(obj(podRequests(c.pod.obj())), c.want, c.name);
});

test("non-zero defaults fill only what a container leaves unset", () => {
  const cases: { name: string; pod: ReturnType<typeof makePod>; cpu: number; mem: number }[] = [
    { name: "best effort container", pod: makePod("p").req({}), cpu: 100, mem: 200 * 1024 * 1024 },
    { name: "cpu only", pod: makePod("p").req({ cpu: "1" }), cpu: 1000, mem: 200 * 1024 * 1024 },
    { name: "explicit zero stays zero", pod: makePod("p").req({ cpu: "0", memory: "0" }), cpu: 0, mem: 0 },
    { name: "two best effort containers", pod: makePod("p").req({}).req({}), cpu: 200, mem: 400 * 1024 * 1024 },
    { name: "no containers", pod: makePod("p"), cpu: 0, mem: 0 },
  ];
  for (const c of cases) {
    const r = podRequests(c.pod.obj(), { nonMissingContainerRequests: NON_ZERO_DEFAULTS });
    assert.equal(r.get("cpu") ?? 0, c.cpu, c.name);
    assert.equal(r.get("memory") ?? 0, c.mem, c.name);
    const pr = calculatePodResource(c.pod.obj());
    assert.equal(pr.non0CPU, c.cpu, c.name);
    assert.equal(pr.non0Mem, c.mem, c.name);
  }
});

test("computePodResourceRequest returns a Resource", () => {
  const r = computePodResourceRequest(makePod("p").req({ cpu: "2", memory: "1Gi", "ephemeral-storage": "1Gi", "hugepages-2Mi": "4Mi", "example.com/foo": "3" }).obj());
  assert.equal(r.milliCPU, 2000);
  assert.equal(r.memory, 1073741824);
  assert.equal(r.ephemeralStorage, 1073741824);
  assert.equal(r.scalar("hugepages-2Mi"), 4 * 1024 * 1024);
  assert.equal(r.scalar("example.com/foo"), 3);
});
