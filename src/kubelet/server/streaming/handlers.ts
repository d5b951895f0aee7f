/**
 * The streaming handlers as the kubelet server mounts them (`../routes.ts`).
 */
import type { StreamingHandlers } from "../routes.js";
import { serveAttach, serveExec } from "./exec.js";
import { servePortForward } from "./port-forward.js";
import type { StreamingOptions } from "./types.js";

/** exec, attach and portForward with `options` (upstream's timeouts by default). */
export function streamingHandlers(options: StreamingOptions = {}): StreamingHandlers {
  return {
    exec: (req, socket, head, target, runtime) => serveExec(req, socket, head, target, runtime, options),
    attach: (req, socket, head, target, runtime) => serveAttach(req, socket, head, target, runtime, options),
    portForward: (req, socket, head, target, runtime) => servePortForward(req, socket, head, target, runtime, options),
  };
}
