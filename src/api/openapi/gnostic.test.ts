import assert from "node:assert/strict";
import { test } from "node:test";
import YAML from "yaml";
import { decodeOpenAPIV2, encodeOpenAPIV2 } from "./gnostic.js";
import type { JsonObject } from "./documents.js";

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => v as Obj;

/** The decoded schema of `definitions[def].properties[field]`. */
function property(doc: Obj, def: string, field: string): Obj {
  const defs = obj(doc.definitions).additional_properties as Obj[];
  const schema = obj(defs.find((d) => d.name === def)?.value);
  return obj((obj(schema.properties).additional_properties as Obj[]).find((p) => p.name === field)?.value);
}

const enumValues = (s: Obj): unknown[] => (s.enum as Obj[]).map((a) => YAML.parse(a.yaml as string));

test("gnostic encodes enum on properties, array items and map values as YAML Any values", () => {
  const doc: JsonObject = {
    swagger: "2.0",
    info: { title: "t", version: "v" },
    paths: {},
    definitions: {
      "io.example.v1.Thing": {
        type: "object",
        properties: {
          policy: { type: "string", enum: ["Always", "IfNotPresent", "Never"], description: "d" },
          modes: { type: "array", items: { type: "string", enum: ["ReadOnlyMany", "ReadWriteOnce"] } },
          statuses: { type: "object", additionalProperties: { type: "string", enum: ["", "Failed"] } },
        },
      },
    },
  };
  const decoded = decodeOpenAPIV2(encodeOpenAPIV2(doc));
  const policy = property(decoded, "io.example.v1.Thing", "policy");
  assert.deepEqual(enumValues(policy), ["Always", "IfNotPresent", "Never"]);
  assert.deepEqual(
    (policy.enum as Obj[]).map((a) => a.yaml),
    ["Always\n", "IfNotPresent\n", "Never\n"],
  );
  const modes = property(decoded, "io.example.v1.Thing", "modes");
  assert.deepEqual(enumValues(obj((obj(modes.items).schema as Obj[])[0])), ["ReadOnlyMany", "ReadWriteOnce"]);
  const statuses = property(decoded, "io.example.v1.Thing", "statuses");
  assert.deepEqual(enumValues(obj(obj(statuses.additional_properties).schema)), ["", "Failed"]);
});
