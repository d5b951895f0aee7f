/**
 * A harness for the DaemonSet controller's unit tests: running informers
 * over in-memory objects, pod control that really creates and deletes the
 * pods those informers see, a helper that plays the scheduler (binds each
 * pod to the node its affinity names) and the kubelet (Running, Ready).
 */
import type { ControllerRevision, DaemonSet } from "kubernetes-types/apps/v1.js";
import type { Node, Pod, PodTemplateSpec, Taint } from "kubernetes-types/core/v1.js";
import type { OwnerReference } from "kubernetes-types/meta/v1.js";
import type { EventSubject } from "../../client/event-recorder.js";
import { FakeTimers } from "../../client/timers.js";
import { silentLogger } from "../../machinery/log.js";
import { alreadyExists, notFound } from "../../machinery/status-error.js";
import { getPodFromTemplate, type PodControl } from "../common/pod-control.js";
import { FakeListerWatcher, runningInformer, settle } from "../common/testing.js";
import { rfc3339 } from "../common/time.js";
import type { ControllerRevisionApi } from "../history/controller-history.js";
import { FakeRecorder } from "../statefulset/testing.js";
import { DaemonSetController } from "./controller.js";
import { DEPRECATED_TEMPLATE_GENERATION } from "./kinds.js";
import { getTargetNodeName } from "./util.js";

export const NOW = Date.UTC(2024, 0, 1, 12);

let uids = 0;

/** A Ready node named `name` with `labels` and `taints`. */
export function newNode(name: string, labels: Record<string, string> = {}, taints: Taint[] = []): Node {
  return {
    metadata: { name, uid: `node-${++uids}`, labels: { "kubernetes.io/hostname": name, ...labels } },
    spec: taints.length > 0 ? { taints } : {},
    status: { conditions: [{ type: "Ready", status: "True" }] },
  };
}

/** Upstream's `newDaemonSet`: `default/<name>` selecting name=<name>, RollingUpdate maxUnavailable 1, template generation 1. */
export function newDaemonSet(name: string): DaemonSet {
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name, namespace: "default", uid: `ds-${++uids}`, generation: 1, annotations: { [DEPRECATED_TEMPLATE_GENERATION]: "1" } },
    spec: {
      selector: { matchLabels: { name } },
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
      revisionHistoryLimit: 10,
      template: {
        metadata: { labels: { name } },
        spec: { containers: [{ name: "agent", image: "agent:1" }], restartPolicy: "Always" },
      },
    },
  };
}

/** Pod control over the fake pod source: creates are named, stamped and visible to the informer. */
export class LivePodControl implements PodControl {
  readonly created: Pod[] = [];
  readonly deleted: string[] = [];
  private seq = 0;
  constructor(
    private readonly pods: FakeListerWatcher<Pod>,
    private readonly clock: { now(): number },
  ) {}

  async createPods(namespace: string, template: PodTemplateSpec | undefined, owner: EventSubject, controllerRef: OwnerReference): Promise<void> {
    const ownerName = (owner as { name?: string }).name ?? "";
    const pod = getPodFromTemplate(template, ownerName, controllerRef);
    pod.metadata = { ...pod.metadata, name: `${ownerName}-${++this.seq}`, namespace, uid: `pod-${++uids}`, creationTimestamp: rfc3339(this.clock.now()) };
    // The API server gives every new pod phase Pending.
    const stored: Pod = { ...pod, status: { phase: "Pending" } };
    this.created.push(stored);
    this.pods.set(stored);
  }

  createPodsWithGenerateName(): Promise<void> {
    throw new Error("not used");
  }

  async deletePod(namespace: string, name: string): Promise<void> {
    const key = `${namespace}/${name}`;
    if (!this.pods.get(key)) throw notFound({ group: "", resource: "pods" }, name);
    this.deleted.push(name);
    this.pods.remove(key);
  }

  async patchPod(namespace: string, name: string, patch: unknown): Promise<void> {
    const pod = this.pods.get(`${namespace}/${name}`);
    if (!pod) throw notFound({ group: "", resource: "pods" }, name);
    const labels = (patch as { metadata?: { labels?: Record<string, string> } }).metadata?.labels;
    if (labels) this.pods.set({ ...pod, metadata: { ...pod.metadata, labels: { ...pod.metadata?.labels, ...labels } } });
  }
}

/** ControllerRevisions over a fake source, as the API server would keep them. */
export function fakeRevisionApi(source: FakeListerWatcher<ControllerRevision>, clock: { now(): number }): ControllerRevisionApi {
  const q = { group: "apps", resource: "controllerrevisions" };
  return {
    async create(ns, cr) {
      const name = cr.metadata?.name ?? "";
      if (source.get(`${ns}/${name}`)) throw alreadyExists(q, name);
      return source.set({ ...cr, metadata: { ...cr.metadata, namespace: ns, uid: `cr-${++uids}`, creationTimestamp: rfc3339(clock.now()) } });
    },
    async get(ns, name) {
      const cr = source.get(`${ns}/${name}`);
      if (!cr) throw notFound(q, name);
      return cr;
    },
    async update(cr) {
      return source.set(cr);
    },
    async delete(ns, name) {
      if (!source.get(`${ns}/${name}`)) throw notFound(q, name);
      source.remove(`${ns}/${name}`);
    },
    async patch(ns, name) {
      const cr = source.get(`${ns}/${name}`);
      if (!cr) throw notFound(q, name);
      return cr;
    },
  };
}

/** A DaemonSet controller over fakes, with helpers to drive it. */
export async function harness(dss: DaemonSet[], nodes: Node[], signal: AbortSignal) {
  const timers = new FakeTimers(NOW);
  const dsSource = new FakeListerWatcher<DaemonSet>(dss);
  const podSource = new FakeListerWatcher<Pod>([]);
  const nodeSource = new FakeListerWatcher<Node>(nodes);
  const revSource = new FakeListerWatcher<ControllerRevision>([]);
  const [dsInformer, podInformer, nodeInformer, historyInformer] = await Promise.all([
    runningInformer(dsSource, signal),
    runningInformer(podSource, signal),
    runningInformer(nodeSource, signal),
    runningInformer(revSource, signal),
  ]);
  const podControl = new LivePodControl(podSource, timers);
  const recorder = new FakeRecorder();
  const controller = new DaemonSetController({
    dsInformer,
    podInformer,
    nodeInformer,
    historyInformer,
    api: {
      async get(ns, name) {
        const ds = dsSource.get(`${ns}/${name}`);
        if (!ds) throw notFound({ group: "apps", resource: "daemonsets" }, name);
        return ds;
      },
      async updateStatus(ds) {
        const old = dsSource.get(`${ds.metadata?.namespace}/${ds.metadata?.name}`)!;
        return dsSource.set({ ...old, status: ds.status });
      },
    },
    revisions: fakeRevisionApi(revSource, timers),
    podControl,
    recorder,
    timers,
    logger: silentLogger,
  });
  const key = (ds: DaemonSet) => `${ds.metadata?.namespace}/${ds.metadata?.name}`;
  /** The pods of `ds`'s namespace, ordered by the node they are for. */
  const pods = (ns = "default") =>
    (podInformer.byNamespace(ns) as Pod[]).slice().sort((a, b) => (getTargetNodeName(a) < getTargetNodeName(b) ? -1 : getTargetNodeName(a) > getTargetNodeName(b) ? 1 : 0));
  /** One sync, after the informers caught up. */
  const sync = async (ds: DaemonSet) => {
    await settle();
    await controller.syncer.syncDaemonSet(key(ds));
    await settle();
  };
  /** Plays the scheduler and the kubelet: every pending pod is bound to its node, Running and Ready. */
  const runPods = async () => {
    await settle();
    for (const p of (await podSource.list()).items) {
      if (p.status?.phase === "Running") continue;
      podSource.set({
        ...p,
        spec: { ...p.spec!, nodeName: getTargetNodeName(p) },
        status: { phase: "Running", conditions: [{ type: "Ready", status: "True", lastTransitionTime: rfc3339(timers.now()) }] },
      });
    }
    await settle();
  };
  /** Syncs and runs pods until nothing changes. */
  const converge = async (ds: DaemonSet, max = 20) => {
    for (let i = 0; i < max; i++) {
      const before = JSON.stringify(pods()) + JSON.stringify(dsSource.get(key(ds))?.status);
      await sync(ds);
      await runPods();
      if (JSON.stringify(pods()) + JSON.stringify(dsSource.get(key(ds))?.status) === before) return;
    }
    throw new Error("did not converge");
  };
  /** A user's edit of the DaemonSet, as the API server stores it (generation and template generation bumped). */
  const edit = (ds: DaemonSet, mutate: (d: DaemonSet) => void) => {
    const cur = structuredClone(dsSource.get(key(ds))!);
    const before = JSON.stringify(cur.spec?.template);
    mutate(cur);
    const gen = Number(cur.metadata?.annotations?.[DEPRECATED_TEMPLATE_GENERATION] ?? "0");
    const templateChanged = JSON.stringify(cur.spec?.template) !== before;
    cur.metadata = {
      ...cur.metadata,
      generation: (cur.metadata?.generation ?? 1) + 1,
      annotations: { ...cur.metadata?.annotations, [DEPRECATED_TEMPLATE_GENERATION]: String(templateChanged ? gen + 1 : gen) },
    };
    return dsSource.set(cur);
  };
  return { controller, timers, dsSource, podSource, nodeSource, revSource, podControl, recorder, pods, sync, runPods, converge, edit, status: (ds: DaemonSet) => dsSource.get(key(ds))!.status };
}
