/**
 * `GET /containerLogs/{namespace}/{pod}/{container}`, as upstream's
 * kubelet getContainerLogs: PodLogOptions from the query (with the legacy
 * `tail`), then the pod and container checks, then the log streamed as it
 * is read (plain text, chunked). Errors before the first byte are answered
 * with upstream's codes and texts; the status line waits for the first
 * byte, so a log that fails to open still gets its 400.
 */
import type { ServerResponse } from "node:http";
import { decodePodLogOptions, LogOptionsDecodeError, type PodLogOptions, validatePodLogOptions } from "../../apiserver/kubelet/pod-log-options.js";
import type { Clock } from "../../machinery/clock.js";
import type { Logger } from "../../machinery/log.js";
import type { ContainerRuntime } from "../../runtime/types.js";
import { containerLogs, podHasContainer } from "../logs/container-logs.js";
import type { LogSink } from "../logs/read-logs.js";
import { writeText } from "./http-text.js";
import type { PodLookup } from "./pod-lookup.js";

/** What the handler needs from the server. */
export interface ContainerLogsContext {
  readonly pods: PodLookup;
  readonly runtime: ContainerRuntime;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly podLogsDir?: string;
  readonly pollIntervalMs?: number;
}

/** A sink that sends the 200 header with the first bytes. */
function responseSink(res: ServerResponse): LogSink {
  return {
    write(chunk) {
      if (res.destroyed || res.writableEnded) return Promise.resolve(false);
      if (!res.headersSent) {
        res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8", "Transfer-Encoding": "chunked" });
      }
      if (res.write(chunk)) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = (ok: boolean) => {
          res.off("drain", onDrain);
          res.off("close", onClose);
          resolve(ok);
        };
        const onDrain = () => done(true);
        const onClose = () => done(false);
        res.on("drain", onDrain);
        res.on("close", onClose);
      });
    },
  };
}

/** Serves one container log request; `params` are the path's namespace, pod and container. */
export async function serveContainerLogs(
  res: ServerResponse,
  url: URL,
  params: { namespace: string; pod: string; container: string },
  ctx: ContainerLogsContext,
): Promise<void> {
  let options: PodLogOptions;
  try {
    options = decodePodLogOptions(url.searchParams, { legacyTail: true });
  } catch (err) {
    if (err instanceof LogOptionsDecodeError) return writeText(res, 400, `{"message": "Unable to decode query."}`);
    throw err;
  }
  if (validatePodLogOptions(options).length > 0) return writeText(res, 422, `{"message": "Invalid request."}`);
  const pod = ctx.pods.podByName(params.namespace, params.pod);
  if (!pod) return writeText(res, 404, `pod ${JSON.stringify(params.pod)} does not exist`);
  if (!podHasContainer(pod, params.container)) {
    return writeText(res, 404, `container ${JSON.stringify(params.container)} not found in pod ${JSON.stringify(params.pod)}`);
  }
  const ac = new AbortController();
  // The response closes when the client goes away: that ends a follow.
  const onClose = () => ac.abort();
  res.on("close", onClose);
  try {
    const result = await containerLogs({
      pod,
      containerName: params.container,
      options,
      runtime: ctx.runtime,
      sink: responseSink(res),
      signal: ac.signal,
      logger: ctx.logger,
      nowMs: ctx.clock.now(),
      podLogsDir: ctx.podLogsDir,
      pollIntervalMs: ctx.pollIntervalMs,
    });
    if (!result.ok) {
      if (!res.headersSent) return writeText(res, 400, result.error);
      ctx.logger.warn("container log stream failed", { pod: `${params.namespace}/${params.pod}`, container: params.container, err: result.error });
    }
    if (!res.headersSent) res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": 0 });
    res.end();
  } finally {
    res.off("close", onClose);
  }
}
