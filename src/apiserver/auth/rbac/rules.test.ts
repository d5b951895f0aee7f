import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PolicyRule } from "kubernetes-types/rbac/v1.js";
import type { RequestInfo } from "../../request-info.js";
import { compactRules, compactString, covers, ruleAllows } from "./rules.js";

function res(verb: string, group: string, resource: string, extra: Partial<RequestInfo> = {}): RequestInfo {
  return { isResourceRequest: true, path: "", verb, apiPrefix: group ? "apis" : "api", group, version: "v1", namespace: "ns", resource, subresource: "", name: "", parts: [], ...extra };
}
function path(verb: string, p: string): RequestInfo {
  return { isResourceRequest: false, path: p, verb, apiPrefix: "", group: "", version: "", namespace: "", resource: "", subresource: "", name: "", parts: [] };
}

describe("ruleAllows", () => {
  const pods: PolicyRule = { apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] };
  it("matches verb, group and resource", () => {
    assert.equal(ruleAllows(res("get", "", "pods"), pods), true);
    assert.equal(ruleAllows(res("delete", "", "pods"), pods), false);
    assert.equal(ruleAllows(res("get", "apps", "pods"), pods), false);
    assert.equal(ruleAllows(res("get", "", "secrets"), pods), false);
  });
  it("needs the subresource named (or */sub, or *)", () => {
    assert.equal(ruleAllows(res("get", "", "pods", { subresource: "log" }), pods), false);
    assert.equal(ruleAllows(res("get", "", "pods", { subresource: "log" }), { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] }), true);
    const scale: PolicyRule = { apiGroups: ["*"], resources: ["*/scale"], verbs: ["get"] };
    assert.equal(ruleAllows(res("get", "apps", "deployments", { subresource: "scale" }), scale), true);
    assert.equal(ruleAllows(res("get", "apps", "deployments", { subresource: "status" }), scale), false);
    assert.equal(ruleAllows(res("get", "apps", "deployments"), scale), false);
    assert.equal(ruleAllows(res("patch", "x.io", "things", { subresource: "status" }), { apiGroups: ["*"], resources: ["*"], verbs: ["*"] }), true);
  });
  it("limits to resourceNames, which never match a nameless request", () => {
    const named: PolicyRule = { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"], resourceNames: ["settings"] };
    assert.equal(ruleAllows(res("get", "", "configmaps", { name: "settings" }), named), true);
    assert.equal(ruleAllows(res("get", "", "configmaps", { name: "other" }), named), false);
    assert.equal(ruleAllows(res("list", "", "configmaps"), named), false);
  });
  it("matches nonResourceURLs exactly or by a trailing *", () => {
    const r: PolicyRule = { nonResourceURLs: ["/healthz", "/apis/*"], verbs: ["get"] };
    assert.equal(ruleAllows(path("get", "/healthz"), r), true);
    assert.equal(ruleAllows(path("get", "/healthz/etcd"), r), false);
    assert.equal(ruleAllows(path("get", "/apis/apps/v1"), r), true);
    assert.equal(ruleAllows(path("get", "/apis"), r), false);
    assert.equal(ruleAllows(path("post", "/healthz"), r), false);
    // A resource rule never allows a path, nor a path rule a resource.
    assert.equal(ruleAllows(path("get", "/api"), { apiGroups: ["*"], resources: ["*"], verbs: ["*"] }), false);
    assert.equal(ruleAllows(res("get", "", "pods"), { nonResourceURLs: ["*"], verbs: ["*"] }), false);
  });
});

describe("covers", () => {
  it("holds what a wider rule grants and reports what is missing, broken down", () => {
    const owner: PolicyRule[] = [{ apiGroups: [""], resources: ["pods", "*/status"], verbs: ["get", "list"] }];
    assert.equal(covers(owner, [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }]).covered, true);
    assert.equal(covers(owner, [{ apiGroups: [""], resources: ["pods/status"], verbs: ["list"] }]).covered, true);
    const r = covers(owner, [{ apiGroups: [""], resources: ["pods", "secrets"], verbs: ["get", "delete"] }]);
    assert.equal(r.covered, false);
    assert.deepEqual(
      compactRules(r.missing).map(compactString).sort(),
      ['{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}', '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]}'],
    );
  });
  it("treats resourceNames as narrowing and * as holding everything", () => {
    const named: PolicyRule[] = [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"], resourceNames: ["a"] }];
    assert.equal(covers(named, [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"], resourceNames: ["a"] }]).covered, true);
    assert.equal(covers(named, [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }]).covered, false);
    const all: PolicyRule[] = [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }];
    assert.equal(covers(all, [{ apiGroups: ["apps"], resources: ["deployments/scale"], verbs: ["update"], resourceNames: ["x"] }]).covered, true);
    // Holding every resource is not holding every verb on "*".
    assert.equal(covers([{ apiGroups: ["*"], resources: ["*"], verbs: ["get"] }], all).covered, false);
  });
  it("covers URLs by prefix", () => {
    assert.equal(covers([{ nonResourceURLs: ["/logs/*"], verbs: ["get"] }], [{ nonResourceURLs: ["/logs/a"], verbs: ["get"] }]).covered, true);
    assert.equal(covers([{ nonResourceURLs: ["/logs/*"], verbs: ["get"] }], [{ nonResourceURLs: ["/metrics"], verbs: ["get"] }]).covered, false);
  });
});
