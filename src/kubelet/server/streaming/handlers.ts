/**
 * The streaming handlers as the kubelet server mounts them (`../routes.ts`).
 * Their code (SPDY, WebSocket) is loaded at the first request, so an idle
 * node does not carry it in its memory.
 */
import type { StreamingHandlers } from "../routes.js";
import type { StreamingOptions } from "./types.js";

const execModule = () => import("./exec.js");
const portForwardModule = () => import("./port-forward.js");

/** exec, attach and portForward with `options` (upstream's timeouts by default). */
export function streamingHandlers(options: StreamingOptions = {}): StreamingHandlers {
  return {
    exec: async (req, socket, head, target, runtime) => (await execModule()).serveExec(req, socket, head, target, runtime, options),
    attach: async (req, socket, head, target, runtime) => (await execModule()).serveAttach(req, socket, head, target, runtime, options),
    portForward: async (req, socket, head, target, runtime) => (await portForwardModule()).servePortForward(req, socket, head, target, runtime, options),
  };
}
