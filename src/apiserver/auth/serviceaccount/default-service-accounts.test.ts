import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../../machinery/log.js";
import { alreadyExists } from "../../../machinery/status-error.js";
import type { KList, KObject } from "../../registry/types.js";
import { ensureDefaultServiceAccounts } from "./default-service-accounts.js";

const list = (items: KObject[]): KList => ({ apiVersion: "v1", kind: "List", metadata: { resourceVersion: "1" }, items });

describe("default ServiceAccounts at start", () => {
  it("makes the missing ones of active namespaces only, and tolerates a concurrent create", async () => {
    const created: string[] = [];
    const made = await ensureDefaultServiceAccounts(
      {
        namespaces: {
          list: async () =>
            list([
              { metadata: { name: "default" }, status: { phase: "Active" } },
              { metadata: { name: "has" }, status: { phase: "Active" } },
              { metadata: { name: "going" }, status: { phase: "Terminating" } },
              { metadata: { name: "raced" }, status: { phase: "Active" } },
            ]),
        },
        serviceAccounts: {
          list: async (ns) => list(ns === "has" ? [{ metadata: { name: "default", namespace: "has" } }] : []),
          create: async (ns, body) => {
            if (ns === "raced") throw alreadyExists({ group: "", resource: "serviceaccounts" }, "default");
            created.push(`${ns}/${body.metadata?.name}`);
            return body;
          },
        },
      },
      silentLogger,
    );
    assert.equal(made, 1);
    assert.deepEqual(created, ["default/default"]);
  });
});
