/**
 * The resource history lives in. The shared descriptors of
 * src/client/resources.ts have none for ControllerRevisions yet.
 */
import type { ResourceDescriptor } from "../../client/resource-client.js";

/** apps/v1 `controllerrevisions` (ControllerRevision, namespaced). */
export const CONTROLLER_REVISIONS: ResourceDescriptor = Object.freeze({
  group: "apps",
  version: "v1",
  resource: "controllerrevisions",
  kind: "ControllerRevision",
  namespaced: true,
});
