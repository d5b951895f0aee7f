/** The `disruption` controller as the controller manager builds it (events as upstream's `controllermanager`). */
import type { Controller, ControllerContext } from "../manager.js";
import { DisruptionController } from "./controller.js";

export function newDisruptionController(ctx: ControllerContext): Controller {
  return new DisruptionController({ rest: ctx.rest, informers: ctx.informers, recorder: ctx.recorder("controllermanager"), logger: ctx.logger.with({ controller: "disruption" }) });
}
