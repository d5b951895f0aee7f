/**
 * A minimal API server front for driving the streaming handlers with real
 * clients (kubectl, client-node): legacy discovery, GET of one running pod,
 * and the pods/exec|attach|portforward upgrades handed to the handlers the
 * way kube-apiserver proxies them to the kubelet — query rewritten to the
 * kubelet's form (`stdin=true` → `stdin=1`, `ports=80` → `port=80`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { StreamingService } from "../../../../runtime/types.js";
import { serveAttach, serveExec } from "../exec.js";
import { servePortForward } from "../port-forward.js";
import type { ContainerTarget, SandboxTarget } from "../../routes.js";
import type { StreamingOptions } from "../types.js";

export const POD_NAMESPACE = "default";
export const POD_NAME = "web";
export const CONTAINER_NAME = "app";
export const CONTAINER_ID = "c0ffee";
export const SANDBOX_ID = "5a4db0c5";

const pod = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: POD_NAME, namespace: POD_NAMESPACE, uid: "6f1c3c9e-0000-4000-8000-000000000001", resourceVersion: "1" },
  spec: { containers: [{ name: CONTAINER_NAME, image: "busybox", ports: [{ containerPort: 80 }] }] },
  status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
};

const apiResources = {
  kind: "APIResourceList",
  apiVersion: "v1",
  groupVersion: "v1",
  resources: [
    { name: "pods", singularName: "pod", namespaced: true, kind: "Pod", verbs: ["get", "list"], shortNames: ["po"] },
    { name: "pods/attach", singularName: "", namespaced: true, kind: "PodAttachOptions", verbs: ["create", "get"] },
    { name: "pods/exec", singularName: "", namespaced: true, kind: "PodExecOptions", verbs: ["create", "get"] },
    { name: "pods/portforward", singularName: "", namespaced: true, kind: "PodPortForwardOptions", verbs: ["create", "get"] },
  ],
};

function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

/** The kubelet query the API server would send for a client's pods/<sub> query. */
export function kubeletQuery(sub: string, q: URLSearchParams): URLSearchParams {
  const out = new URLSearchParams();
  if (sub === "portforward") {
    for (const p of q.getAll("ports")) out.append("port", p);
    return out;
  }
  for (const name of ["stdin", "stdout", "stderr", "tty"]) if (q.get(name) === "true") out.set(name, "1");
  for (const c of q.getAll("command")) out.append("command", c);
  return out;
}

export interface FakeApi {
  readonly server: Server;
  readonly url: string;
  /** Every upgrade the front handled, with the kubelet URL it handed over. */
  readonly upgrades: { sub: string; kubeletUrl: string; headers: IncomingMessage["headers"] }[];
  close(): Promise<void>;
}

export async function startFakeApi(runtime: StreamingService, options: StreamingOptions = {}): Promise<FakeApi> {
  const upgrades: FakeApi["upgrades"] = [];
  const sockets = new Set<Duplex>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://api");
    if (req.method !== "GET") return json(res, 405, { kind: "Status", apiVersion: "v1", status: "Failure", code: 405, reason: "MethodNotAllowed" });
    switch (url.pathname) {
      case "/version":
        return json(res, 200, { major: "1", minor: "33", gitVersion: "v1.33.1+skiff", platform: "linux/amd64" });
      case "/api":
        return json(res, 200, { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1:6443" }] });
      case "/apis":
        return json(res, 200, { kind: "APIGroupList", apiVersion: "v1", groups: [] });
      case "/api/v1":
        return json(res, 200, apiResources);
      case `/api/v1/namespaces/${POD_NAMESPACE}/pods/${POD_NAME}`:
        return json(res, 200, pod);
      default:
        return json(res, 404, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "not found", reason: "NotFound", code: 404 });
    }
  });
  server.on("connection", (s) => sockets.add(s));
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.add(socket);
    const url = new URL(req.url ?? "/", "http://api");
    const m = new RegExp(`^/api/v1/namespaces/${POD_NAMESPACE}/pods/${POD_NAME}/(exec|attach|portforward)$`).exec(url.pathname);
    if (!m) {
      socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return;
    }
    const sub = m[1]!;
    const q = kubeletQuery(sub, url.searchParams);
    const path = sub === "portforward" ? `/portForward/${POD_NAMESPACE}/${POD_NAME}` : `/${sub}/${POD_NAMESPACE}/${POD_NAME}/${CONTAINER_NAME}`;
    req.url = `${path}?${q.toString()}`;
    upgrades.push({ sub, kubeletUrl: req.url, headers: { ...req.headers } });
    const pod = { podNamespace: POD_NAMESPACE, podName: POD_NAME, podUid: "6f1c3c9e-0000-4000-8000-000000000001" };
    if (sub === "portforward") {
      const target: SandboxTarget = { ...pod, podSandboxId: SANDBOX_ID };
      void servePortForward(req, socket, head, target, runtime, options);
    } else {
      const target: ContainerTarget = { ...pod, containerId: CONTAINER_ID, containerName: CONTAINER_NAME };
      void (sub === "exec" ? serveExec : serveAttach)(req, socket, head, target, runtime, options);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    upgrades,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
