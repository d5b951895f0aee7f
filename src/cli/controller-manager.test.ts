import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CONTROLLERS } from "../controllers/manager.js";
import { type ControllerManagerFlags, parseControllerManagerFlags, selectControllers } from "./controller-manager.js";

/** The flags as commander hands them over with every default in place. */
const defaults: ControllerManagerFlags = {
  kubeconfig: "/tmp/skiff-none/kubeconfig.yaml",
  leaderElect: "true",
  leaderElectLeaseDuration: "15s",
  leaderElectRenewDeadline: "10s",
  leaderElectRetryPeriod: "2s",
  controllers: ["*"],
  clusterCidr: "10.42.0.0/16",
  nodeCidrMaskSize: "24",
  nodeMonitorPeriod: "5s",
  nodeMonitorGracePeriod: "50s",
  nodeStartupGracePeriod: "1m",
  nodeEvictionRate: "0.1",
  secondaryNodeEvictionRate: "0.01",
  largeClusterSizeThreshold: "50",
  unhealthyZoneThreshold: "0.55",
  terminatedPodGcThreshold: "12500",
  pvclaimbinderSyncPeriod: "15s",
};
const parse = (over: Partial<ControllerManagerFlags>, env: NodeJS.ProcessEnv = {}) => parseControllerManagerFlags({ ...defaults, ...over }, env);

describe("skiff controller-manager flags", () => {
  it("turns upstream's defaults into settings and Lease timings", () => {
    const plan = parse({});
    assert.deepEqual(plan.controllers, Object.keys(CONTROLLERS));
    assert.equal(plan.leaseDurationMs, 15_000);
    assert.equal(plan.renewDeadlineMs, 10_000);
    assert.equal(plan.retryPeriodMs, 2_000);
    assert.equal(plan.settings.nodeMonitorGracePeriodMs, 50_000);
    assert.equal(plan.settings.nodeMonitorPeriodMs, 5_000);
    assert.equal(plan.settings.nodeStartupGracePeriodMs, 60_000);
    assert.equal(plan.settings.nodeEvictionRate, 0.1);
    assert.equal(plan.settings.terminatedPodGCThreshold, 12_500);
    assert.equal(plan.settings.clusterCidr, "10.42.0.0/16");
    assert.equal(plan.settings.nodeCidrMaskSize, 24);
  });

  it("reads --controllers as kube-controller-manager: '*', names, and '-name'", () => {
    assert.deepEqual(selectControllers(["deployment,replicaset"]), ["replicaset", "deployment"]);
    const all = selectControllers(["*,-nodeipam", "-cronjob"]);
    assert.ok(!all.includes("nodeipam") && !all.includes("cronjob"));
    assert.equal(all.length, Object.keys(CONTROLLERS).length - 2);
    assert.throws(() => selectControllers(["*,-bogus"]), /"bogus" is not a known controller; known: garbagecollector/);
    assert.throws(() => parse({ controllers: ["-deployment"] }), /turns every controller off/);
  });

  it("takes the kubeconfig from KUBECONFIG when the flag is absent, and needs one", () => {
    assert.equal(parse({ kubeconfig: undefined }, { KUBECONFIG: ":/tmp/skiff-a:/tmp/skiff-b" }).kubeconfig, "/tmp/skiff-a");
    assert.throws(() => parse({ kubeconfig: undefined }), /--kubeconfig is required/);
  });

  it("refuses what it cannot honour, naming the flag", () => {
    assert.throws(() => parse({ leaderElect: "false" }), /--leader-elect=false is not supported/);
    assert.throws(() => parse({ leaderElect: "maybe" }), /--leader-elect must be true or false/);
    assert.throws(() => parse({ leaderElectLeaseDuration: "10s" }), /lease-duration must be greater than --leader-elect-renew-deadline/);
    assert.throws(() => parse({ leaderElectRetryPeriod: "9s" }), /renew-deadline must be greater than 1.2/);
    assert.throws(() => parse({ nodeMonitorGracePeriod: "soon" }), /--node-monitor-grace-period: invalid duration "soon"/);
    assert.throws(() => parse({ nodeMonitorPeriod: "0s" }), /--node-monitor-period must be greater than 0/);
    assert.throws(() => parse({ clusterCidr: "10.42.0.0" }), /--cluster-cidr: /);
    assert.throws(() => parse({ nodeCidrMaskSize: "8" }), /--node-cidr-mask-size must be an integer from 16 to 30, not 8/);
    assert.throws(() => parse({ unhealthyZoneThreshold: "2" }), /--unhealthy-zone-threshold must be a fraction from 0 to 1/);
    assert.throws(() => parse({ terminatedPodGcThreshold: "-1" }), /--terminated-pod-gc-threshold must be an integer ≥ 0/);
  });
});
