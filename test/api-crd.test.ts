/**
 * CustomResourceDefinitions through real kubectl: the CRD is established,
 * its resources are discovered, defaulted, validated against the schema,
 * printed with their columns, scaled, and removed with the CRD.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";

let srv: TestServer;
before(async () => {
  srv = await startTestServer();
});
after(async () => {
  await srv?.stop();
});

const CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: databases.expense.example.com
spec:
  group: expense.example.com
  scope: Namespaced
  names: {plural: databases, singular: database, kind: Database, shortNames: [db]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}, scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}}
    additionalPrinterColumns:
    - {name: Engine, type: string, jsonPath: .spec.engine}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [engine]
            properties:
              engine: {type: string, enum: [mysql, postgres]}
              replicas: {type: integer, minimum: 1, default: 1}
          status:
            type: object
            properties:
              replicas: {type: integer}
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("custom resources", () => {
  it("establishes a CRD and serves its kind", async () => {
    ok(srv.kubectl(["apply", "-f", "-"], { input: CRD }), "apply CRD");
    let established = "";
    for (let i = 0; i < 50 && established !== "True"; i++) {
      established = ok(srv.kubectl(["get", "crd", "databases.expense.example.com", "-o", 'jsonpath={.status.conditions[?(@.type=="Established")].status}']), "crd");
      if (established !== "True") await sleep(100);
    }
    assert.equal(established, "True");
    const resources = ok(srv.kubectl(["api-resources", "--api-group=expense.example.com", "--no-headers"]), "api-resources");
    assert.match(resources, /databases\s+db\s+expense.example.com\/v1\s+true\s+Database/);
  });

  it("defaults, validates, prints and scales custom resources", () => {
    ok(srv.kubectl(["apply", "-f", "-"], { input: "apiVersion: expense.example.com/v1\nkind: Database\nmetadata: {name: mysql, namespace: default}\nspec: {engine: mysql}\n" }), "apply CR");
    assert.equal(ok(srv.kubectl(["get", "db", "mysql", "-o", "jsonpath={.spec.replicas}"]), "defaulted"), "1");
    assert.match(ok(srv.kubectl(["get", "db"]), "table"), /^NAME\s+ENGINE\s+REPLICAS\nmysql\s+mysql\s+1\n$/);
    const bad = srv.kubectl(["apply", "-f", "-"], {
      input: JSON.stringify({ apiVersion: "expense.example.com/v1", kind: "Database", metadata: { name: "bad", namespace: "default" }, spec: { engine: "oracle", replicas: 0 } }),
    });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /spec.engine: Unsupported value: "oracle": supported values: "mysql", "postgres"/);
    assert.match(bad.stderr, /spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1/);
    const unknown = srv.kubectl(["apply", "-f", "-"], {
      input: JSON.stringify({ apiVersion: "expense.example.com/v1", kind: "Database", metadata: { name: "x", namespace: "default" }, spec: { engine: "mysql", extra: 1 } }),
    });
    assert.notEqual(unknown.status, 0);
    assert.match(unknown.stderr, /strict decoding error: unknown field "spec.extra"/);
    ok(srv.kubectl(["scale", "db", "mysql", "--replicas=3"]), "scale");
    assert.equal(ok(srv.kubectl(["get", "db", "mysql", "-o", "jsonpath={.spec.replicas}"]), "scaled"), "3");
  });

  it("removes custom resources with their CRD", async () => {
    ok(srv.kubectl(["delete", "crd", "databases.expense.example.com"]), "delete CRD");
    let left = "x";
    for (let i = 0; i < 50 && left !== ""; i++) {
      left = ok(srv.kubectl(["get", "crd", "-o", "name"]), "crds").trim();
      if (left !== "") await sleep(200);
    }
    assert.equal(left, "");
    const gone = srv.kubectl(["get", "--raw", "/apis/expense.example.com/v1/namespaces/default/databases"]);
    assert.notEqual(gone.status, 0);
  });
});
