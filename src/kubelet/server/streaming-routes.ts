/**
 * The kubelet's exec, attach and port-forward endpoints up to the protocol:
 * the pod must be on this node (404 `pod does not exist`), the container
 * must be running (500 `container not found ("c")`, as upstream's
 * findContainer), the pod must have a ready sandbox for port-forward (500
 * `pod not found ("name_namespace")`), and only upgrade requests go on to
 * the protocol handlers of `streaming/` (see routes.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { takeOverUpgrade } from "../../apiserver/kubelet/upgrade-request.js";
import type { Logger } from "../../machinery/log.js";
import { type ContainerRuntime, formatRuntimeError } from "../../runtime/types.js";
import { CONTAINER_NAME_LABEL, POD_UID_LABEL } from "../runtime-labels.js";
import { NOT_FOUND_TEXT, writeText } from "./http-text.js";
import type { PodLookup } from "./pod-lookup.js";
import type { ContainerTarget, PodTarget, SandboxTarget, StreamingHandlers, UpgradeHandler } from "./routes.js";

/** A parsed streaming path. */
export type StreamingRoute =
  | { readonly kind: "exec" | "attach"; readonly namespace: string; readonly pod: string; readonly uid?: string; readonly container: string }
  | { readonly kind: "portForward"; readonly namespace: string; readonly pod: string; readonly uid?: string };

/** Parses `/exec|attach/{ns}/{pod}[/{uid}]/{container}` and `/portForward/{ns}/{pod}[/{uid}]`; undefined for other paths. */
export function parseStreamingPath(segments: readonly string[]): StreamingRoute | undefined {
  const [kind, ...rest] = segments;
  if ((kind === "exec" || kind === "attach") && (rest.length === 3 || rest.length === 4)) {
    const [namespace, pod] = rest as [string, string];
    return rest.length === 3 ? { kind, namespace, pod, container: rest[2]! } : { kind, namespace, pod, uid: rest[2]!, container: rest[3]! };
  }
  if (kind === "portForward" && (rest.length === 2 || rest.length === 3)) {
    return { kind, namespace: rest[0]!, pod: rest[1]!, ...(rest[2] ? { uid: rest[2] } : {}) };
  }
  return undefined;
}

/** What the streaming endpoints need from the server. */
export interface StreamingContext {
  readonly pods: PodLookup;
  readonly runtime: ContainerRuntime;
  readonly handlers: StreamingHandlers;
  readonly logger: Logger;
  /** Connections handed to a handler, until they close (the server ends them when it stops). */
  readonly open: Set<Duplex>;
}

/** Serves one streaming request (upgrade or not) for `route`. */
export async function serveStreaming(req: IncomingMessage, res: ServerResponse, route: StreamingRoute, ctx: StreamingContext): Promise<void> {
  const method = req.method ?? "GET";
  if (method !== "GET" && method !== "POST") return writeText(res, 405, "405: Method Not Allowed");
  const handler = ctx.handlers[route.kind];
  if (!handler) return writeText(res, 404, NOT_FOUND_TEXT);
  const pod = ctx.pods.podByName(route.namespace, route.pod);
  if (!pod) return writeText(res, 404, "pod does not exist");
  const podUid = pod.metadata?.uid ?? "";
  if (route.kind === "portForward" && route.uid && route.uid !== podUid) return writeText(res, 404, "pod not found");
  const base: PodTarget = { podNamespace: route.namespace, podName: route.pod, podUid };
  const rt = ctx.runtime;
  let target: ContainerTarget | SandboxTarget;
  if (route.kind === "portForward") {
    const list = await rt.listPodSandbox({ state: "ready", labelSelector: { [POD_UID_LABEL]: podUid } });
    if (!list.ok) return writeText(res, 500, formatRuntimeError(list.error));
    const sandbox = [...list.value].sort((a, b) => b.createdAt - a.createdAt)[0];
    if (!sandbox) return writeText(res, 500, `pod not found (${JSON.stringify(`${route.pod}_${route.namespace}`)})`);
    target = { ...base, podSandboxId: sandbox.id };
  } else {
    const list = await rt.listContainers({ state: "running", labelSelector: { [POD_UID_LABEL]: podUid, [CONTAINER_NAME_LABEL]: route.container } });
    if (!list.ok) return writeText(res, 500, formatRuntimeError(list.error));
    const c = [...list.value].sort((a, b) => b.createdAt - a.createdAt)[0];
    if (!c) return writeText(res, 500, `container not found (${JSON.stringify(route.container)})`);
    target = { ...base, containerName: route.container, containerId: c.id };
  }
  const conn = takeOverUpgrade(req, res);
  // As upstream's proxyStream (upgradeRequired): a plain request cannot carry a stream.
  if (!conn) return writeText(res, 500, "Upgrade request required\n");
  ctx.logger.debug("streaming request", { kind: route.kind, pod: `${route.namespace}/${route.pod}` });
  ctx.open.add(conn.socket);
  conn.socket.once("close", () => ctx.open.delete(conn.socket));
  try {
    await (handler as UpgradeHandler<ContainerTarget | SandboxTarget>)(req, conn.socket, conn.head, target, rt);
  } catch (err) {
    // A handler must not throw (routes.ts); if one does, the connection cannot be trusted any more.
    ctx.logger.error("streaming handler failed", { kind: route.kind, pod: `${route.namespace}/${route.pod}`, err: (err as Error)?.stack ?? String(err) });
    conn.socket.destroy();
  }
}
