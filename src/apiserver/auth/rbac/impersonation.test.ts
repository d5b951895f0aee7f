import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { describe, it } from "node:test";
import type { RequestInfo } from "../../request-info.js";
import type { UserInfo } from "../authn.js";
import type { Authorizer } from "../authz.js";
import { impersonate } from "./impersonation.js";

const req = (headers: [string, string][]): IncomingMessage => ({ rawHeaders: headers.flat(), headers: {} }) as unknown as IncomingMessage;
const alice: UserInfo = { username: "alice", groups: ["system:authenticated"] };

/** Allows alice to impersonate what `allowed` lists (resource/name), recording each check. */
function authorizer(allowed: string[], seen: RequestInfo[] = []): Authorizer {
  return {
    authorize(_u, info) {
      seen.push(info);
      return allowed.includes(`${info.resource}/${info.name}`) ? { decision: "allow" } : { decision: "no-opinion" };
    },
  };
}

describe("impersonation", () => {
  it("passes requests without impersonation headers through", async () => {
    assert.equal(await impersonate(req([["Accept", "x"]]), alice, authorizer([])), alice);
  });
  it("acts as a ServiceAccount with its groups once allowed", async () => {
    const seen: RequestInfo[] = [];
    const u = await impersonate(req([["Impersonate-User", "system:serviceaccount:ns:build"]]), alice, authorizer(["serviceaccounts/build"], seen));
    assert.deepEqual(u, { username: "system:serviceaccount:ns:build", groups: ["system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated"] });
    assert.equal(seen[0]?.verb, "impersonate");
    assert.equal(seen[0]?.namespace, "ns");
    assert.equal(seen[0]?.group, "");
  });
  it("checks every group and extra, and the user itself", async () => {
    const headers: [string, string][] = [
      ["Impersonate-User", "bob"],
      ["Impersonate-Group", "devs"],
      ["Impersonate-Extra-Scopes", "read"],
    ];
    await assert.rejects(impersonate(req(headers), alice, authorizer(["users/bob", "groups/devs"])), {
      message: 'userextras.authentication.k8s.io "read" is forbidden: User "alice" cannot impersonate resource "userextras/scopes" in API group "authentication.k8s.io" at the cluster scope',
    });
    const u = await impersonate(req(headers), alice, authorizer(["users/bob", "groups/devs", "userextras/read"]));
    assert.deepEqual(u, { username: "bob", groups: ["devs", "system:authenticated"], extra: { scopes: ["read"] } });
    await assert.rejects(impersonate(req([["Impersonate-User", "bob"]]), alice, authorizer([])), {
      message: 'users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope',
    });
  });
  it("refuses groups without a user", async () => {
    await assert.rejects(impersonate(req([["Impersonate-Group", "devs"]]), alice, authorizer(["groups/devs"])), /without impersonating a user/);
  });
});
