/**
 * An InformerFactory over in-memory sources, for controller unit tests:
 * each resource's informer runs over a {@link FakeListerWatcher} the test
 * changes directly.
 */
import type { InformerFactory, SharedInformer } from "../../client/informer.js";
import type { KubeObject, ResourceDescriptor } from "../../client/resource-client.js";
import { FakeListerWatcher, runningInformer } from "../common/testing.js";

/** Fake sources by resource (`pods`, `persistentvolumes`…) and a factory handing out running informers over them. */
export interface FakeInformers {
  readonly factory: InformerFactory;
  source<T extends KubeObject>(resource: string): FakeListerWatcher<T>;
}

/** Starts synced informers over `initial` objects by resource; they stop when `signal` aborts. Unknown resources get empty sources. */
export async function fakeInformers(initial: Record<string, readonly KubeObject[]>, signal: AbortSignal, resources: readonly string[] = []): Promise<FakeInformers> {
  const sources = new Map<string, FakeListerWatcher<KubeObject>>();
  const informers = new Map<string, SharedInformer<KubeObject>>();
  for (const r of new Set([...Object.keys(initial), ...resources])) {
    const src = new FakeListerWatcher<KubeObject>(initial[r] ?? []);
    sources.set(r, src);
    informers.set(r, await runningInformer(src, signal));
  }
  const factory = {
    informerFor(d: ResourceDescriptor) {
      const inf = informers.get(d.resource);
      if (!inf) throw new Error(`no fake informer for ${d.resource}`);
      return inf;
    },
  } as unknown as InformerFactory;
  return { factory, source: <T extends KubeObject>(r: string) => sources.get(r) as unknown as FakeListerWatcher<T> };
}
