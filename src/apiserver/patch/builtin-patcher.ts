/** Strategic merge patch for built-in kinds, with the schemas skiff publishes in its OpenAPI. */
import type { ResourceType } from "../../api/resources.js";
import definitions from "../../api/openapi/definitions.generated.json" with { type: "json" };
import type { KObject } from "../registry/types.js";
import { applyStrategicMergePatch, type Definitions } from "./strategic-merge-patch.js";

const defs = definitions as unknown as Definitions;

export function strategicPatchBuiltin(resource: ResourceType, current: KObject, patch: unknown): KObject {
  return applyStrategicMergePatch(current, patch as Record<string, unknown>, resource.definition, defs) as KObject;
}
