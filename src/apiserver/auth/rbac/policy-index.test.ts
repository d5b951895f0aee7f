import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from "kubernetes-types/rbac/v1.js";
import type { RequestInfo } from "../../request-info.js";
import type { UserInfo } from "../authn.js";
import { RbacAuthorizer } from "./authorizer.js";
import { confirmNoEscalation } from "./escalation.js";
import { PolicyIndex } from "./policy-index.js";

const RBAC = "rbac.authorization.k8s.io";
const req = (verb: string, resource: string, namespace: string, name = ""): RequestInfo => ({
  isResourceRequest: true,
  path: "",
  verb,
  apiPrefix: "api",
  group: "",
  version: "v1",
  namespace,
  resource,
  subresource: "",
  name,
  parts: [],
});
const alice: UserInfo = { username: "alice", groups: ["devs", "system:authenticated"] };
const sa: UserInfo = { username: "system:serviceaccount:team:builder", groups: ["system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"] };

function index(): PolicyIndex {
  const ix = new PolicyIndex();
  const reader: ClusterRole = { metadata: { name: "pod-reader" }, rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }] };
  const secrets: Role = { metadata: { name: "secret-reader", namespace: "team" }, rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }] };
  ix.replace("ClusterRole", [reader]);
  ix.replace("Role", [secrets]);
  const crb: ClusterRoleBinding = { metadata: { name: "devs-read" }, roleRef: { apiGroup: RBAC, kind: "ClusterRole", name: "pod-reader" }, subjects: [{ kind: "Group", name: "devs", apiGroup: RBAC }] };
  ix.replace("ClusterRoleBinding", [crb]);
  const rbs: RoleBinding[] = [
    // A ServiceAccount subject without a namespace means the binding's namespace.
    { metadata: { name: "builder-secrets", namespace: "team" }, roleRef: { apiGroup: RBAC, kind: "Role", name: "secret-reader" }, subjects: [{ kind: "ServiceAccount", name: "builder" }] },
    { metadata: { name: "dangling", namespace: "team" }, roleRef: { apiGroup: RBAC, kind: "Role", name: "missing" }, subjects: [{ kind: "User", name: "alice", apiGroup: RBAC }] },
  ];
  ix.replace("RoleBinding", rbs);
  return ix;
}

describe("RBAC authorizer", () => {
  it("allows through a ClusterRoleBinding, naming it", () => {
    const r = new RbacAuthorizer(index()).authorize(alice, req("list", "pods", "any"));
    assert.deepEqual(r, { decision: "allow", reason: 'RBAC: allowed by ClusterRoleBinding "devs-read" of ClusterRole "pod-reader" to Group "devs"' });
  });
  it("allows a ServiceAccount through a RoleBinding of its namespace only", () => {
    const a = new RbacAuthorizer(index());
    assert.deepEqual(a.authorize(sa, req("get", "secrets", "team", "token")), {
      decision: "allow",
      reason: 'RBAC: allowed by RoleBinding "builder-secrets/team" of Role "secret-reader" to ServiceAccount "builder/team"',
    });
    assert.equal(a.authorize(sa, req("get", "secrets", "other", "token")).decision, "no-opinion");
    assert.equal(a.authorize({ ...sa, username: "system:serviceaccount:other:builder" }, req("get", "secrets", "team")).decision, "no-opinion");
  });
  it("has no opinion otherwise, reporting roles that do not exist", () => {
    const r = new RbacAuthorizer(index()).authorize(alice, req("delete", "pods", "team"));
    assert.deepEqual(r, { decision: "no-opinion", reason: 'RBAC: role.rbac.authorization.k8s.io "missing" not found' });
  });
  it("sees changes at once", () => {
    const ix = index();
    const a = new RbacAuthorizer(ix);
    assert.equal(a.authorize(alice, req("get", "secrets", "team")).decision, "no-opinion");
    const rb: RoleBinding = { metadata: { name: "alice-secrets", namespace: "team" }, roleRef: { apiGroup: RBAC, kind: "Role", name: "secret-reader" }, subjects: [{ kind: "User", name: "alice", apiGroup: RBAC }] };
    ix.apply("RoleBinding", rb);
    assert.equal(a.authorize(alice, req("get", "secrets", "team")).decision, "allow");
    ix.apply("RoleBinding", rb, true);
    assert.equal(a.authorize(alice, req("get", "secrets", "team")).decision, "no-opinion");
  });
});

describe("confirmNoEscalation", () => {
  it("passes for held rules and names the missing ones as upstream", () => {
    const ix = index();
    assert.equal(confirmNoEscalation(ix, alice, "team", [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }]), undefined);
    assert.equal(
      confirmNoEscalation(ix, alice, "team", [{ apiGroups: [""], resources: ["pods", "secrets"], verbs: ["get", "watch"] }]),
      'user "alice" (groups=["devs" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n' +
        '{APIGroups:[""], Resources:["pods"], Verbs:["watch"]}\n{APIGroups:[""], Resources:["secrets"], Verbs:["get" "watch"]}' +
        '; resolution errors: [role.rbac.authorization.k8s.io "missing" not found]',
    );
  });
});
