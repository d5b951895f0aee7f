/**
 * In-memory Services and EndpointSlices for tests and benchmarks: a
 * ListerWatcher that lists what it holds and streams every later change,
 * plus builders for the objects. No API server needed.
 */
import type { Service, ServicePort } from "kubernetes-types/core/v1.js";
import type { Endpoint, EndpointSlice } from "kubernetes-types/discovery/v1.js";
import type { KubeList, ListerWatcher } from "../../client/resource-client.js";
import type { WatchEvent } from "../../client/watch.js";
import { SERVICE_NAME_LABEL } from "./service-proxy.js";

type Obj = { metadata?: { namespace?: string; name?: string; resourceVersion?: string } };

/** A ListerWatcher over objects held in memory; `set`/`remove` stream MODIFIED/ADDED/DELETED events. */
export class FakeSource<T extends Obj> implements ListerWatcher<T> {
  readonly #objects = new Map<string, T>();
  readonly #watchers = new Set<(e: WatchEvent<T>) => void>();
  /** Every event with its resourceVersion, so a watch from an older version misses none (as the API server's). */
  readonly #history: { rv: number; event: WatchEvent<T> }[] = [];
  #rv = 1;

  #emit(event: WatchEvent<T>): void {
    this.#history.push({ rv: this.#rv, event });
    for (const w of this.#watchers) w(structuredClone(event));
  }

  #key(o: T): string {
    return `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
  }

  /** Adds or replaces an object (its resourceVersion is set here). */
  set(o: T): void {
    const k = this.#key(o);
    const type = this.#objects.has(k) ? "MODIFIED" : "ADDED";
    const obj = { ...o, metadata: { ...o.metadata, resourceVersion: String(++this.#rv) } } as T;
    this.#objects.set(k, obj);
    this.#emit({ type, object: obj } as WatchEvent<T>);
  }

  /** Removes an object. */
  remove(namespace: string, name: string): void {
    const k = `${namespace}/${name}`;
    const had = this.#objects.get(k);
    if (had === undefined) return;
    this.#objects.delete(k);
    const obj = { ...had, metadata: { ...had.metadata, resourceVersion: String(++this.#rv) } } as T;
    this.#emit({ type: "DELETED", object: obj } as WatchEvent<T>);
  }

  async list(): Promise<KubeList<T>> {
    return { metadata: { resourceVersion: String(this.#rv) }, items: [...this.#objects.values()].map((o) => structuredClone(o)) };
  }

  async *watch(opts: { resourceVersion?: string }, signal?: AbortSignal): AsyncIterable<WatchEvent<T>> {
    const from = Number(opts.resourceVersion ?? "0") || 0;
    const queue: WatchEvent<T>[] = this.#history.filter((h) => h.rv > from).map((h) => structuredClone(h.event));
    let wake: (() => void) | undefined;
    const push = (e: WatchEvent<T>) => {
      queue.push(e);
      wake?.();
    };
    this.#watchers.add(push);
    const onAbort = () => wake?.();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      while (!signal?.aborted) {
        while (queue.length > 0) yield queue.shift() as WatchEvent<T>;
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
    } finally {
      this.#watchers.delete(push);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}

/** A Service of type ClusterIP (or what `spec` overrides). */
export function makeService(namespace: string, name: string, clusterIP: string, ports: ServicePort[], spec: Service["spec"] = {}, status?: Service["status"]): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { namespace, name },
    spec: { type: "ClusterIP", clusterIP, clusterIPs: [clusterIP], ports, sessionAffinity: "None", internalTrafficPolicy: "Cluster", ...spec },
    ...(status ? { status } : {}),
  };
}

/** An endpoint: ready unless `conditions` say otherwise. */
export function makeEndpoint(ip: string, nodeName: string, conditions: Endpoint["conditions"] = { ready: true, serving: true, terminating: false }): Endpoint {
  return { addresses: [ip], nodeName, conditions };
}

/** An IPv4 EndpointSlice of Service `service`. */
export function makeSlice(namespace: string, name: string, service: string, ports: { name?: string; port: number; protocol?: string }[], endpoints: Endpoint[]): EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { namespace, name, labels: { [SERVICE_NAME_LABEL]: service } },
    addressType: "IPv4",
    ports: ports.map((p) => ({ name: p.name ?? "", port: p.port, protocol: p.protocol ?? "TCP" })),
    endpoints,
  };
}
