/**
 * The storage controllers as the controller manager builds them, by
 * upstream's names: `persistentvolume-binder` (events as
 * `persistentvolume-controller`), `pvc-protection`, `pv-protection`.
 */
import type { Controller, ControllerContext } from "../manager.js";
import { PersistentVolumeBinderController } from "./persistentvolume/controller.js";
import { PvcProtectionController } from "./pvcprotection/controller.js";
import { PvProtectionController } from "./pvprotection/controller.js";

export function newPersistentVolumeBinderController(ctx: ControllerContext): Controller {
  return new PersistentVolumeBinderController({
    rest: ctx.rest,
    informers: ctx.informers,
    recorder: ctx.recorder("persistentvolume-controller"),
    logger: ctx.logger.with({ controller: "persistentvolume-binder" }),
    syncPeriodMs: ctx.settings.pvClaimBinderSyncPeriodMs,
  });
}

export function newPvcProtectionController(ctx: ControllerContext): Controller {
  return new PvcProtectionController({ rest: ctx.rest, informers: ctx.informers, logger: ctx.logger.with({ controller: "pvc-protection" }) });
}

export function newPvProtectionController(ctx: ControllerContext): Controller {
  return new PvProtectionController({ rest: ctx.rest, informers: ctx.informers, logger: ctx.logger.with({ controller: "pv-protection" }) });
}
