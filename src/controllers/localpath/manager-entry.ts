/**
 * The `local-path-provisioner` controller as the controller manager builds
 * it: volumes under `settings.storageDir` (the documented default data
 * dir's `storage/` when the server did not say), directories made and
 * removed on `settings.localNodeName`, events as `rancher.io/local-path`.
 */
import { join } from "node:path";
import { defaultDataDir } from "../../cli/data-dir.js";
import type { Controller, ControllerContext } from "../manager.js";
import { LocalPathProvisionerController } from "./controller.js";

export function newLocalPathProvisionerController(ctx: ControllerContext): Controller {
  return new LocalPathProvisionerController({
    rest: ctx.rest,
    informers: ctx.informers,
    recorder: ctx.recorder("rancher.io/local-path"),
    logger: ctx.logger.with({ controller: "local-path-provisioner" }),
    storageDir: ctx.settings.storageDir ?? join(defaultDataDir(), "storage"),
    localNodeName: ctx.settings.localNodeName,
  });
}
