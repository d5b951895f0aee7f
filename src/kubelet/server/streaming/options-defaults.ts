import { silentLogger } from "../../../machinery/log.js";
import {
  DEFAULT_FINISH_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_PORT_FORWARD_GRACE_MS,
  DEFAULT_STREAM_CREATION_TIMEOUT_MS,
  type StreamingOptions,
} from "./types.js";

/** {@link StreamingOptions} with every default filled in. */
export type ResolvedStreamingOptions = Required<StreamingOptions>;

export function resolveStreamingOptions(o: StreamingOptions = {}): ResolvedStreamingOptions {
  return {
    idleTimeoutMs: o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    streamCreationTimeoutMs: o.streamCreationTimeoutMs ?? DEFAULT_STREAM_CREATION_TIMEOUT_MS,
    finishTimeoutMs: o.finishTimeoutMs ?? DEFAULT_FINISH_TIMEOUT_MS,
    portForwardGraceMs: o.portForwardGraceMs ?? DEFAULT_PORT_FORWARD_GRACE_MS,
    logger: o.logger ?? silentLogger,
  };
}
