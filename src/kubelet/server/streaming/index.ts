/**
 * The kubelet's streaming endpoints: exec, attach and port-forward over
 * SPDY/3.1 and WebSocket, driving the runtime's StreamingService. They are
 * `UpgradeHandler`s of `../routes.ts`; `streamingHandlers()` bundles them
 * for the kubelet server.
 */
export { serveAttach, serveExec } from "./exec.js";
export { servePortForward } from "./port-forward.js";
export {
  DEFAULT_FINISH_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_PORT_FORWARD_GRACE_MS,
  DEFAULT_STREAM_CREATION_TIMEOUT_MS,
  type StreamingOptions,
} from "./types.js";
export { streamingHandlers } from "./handlers.js";
