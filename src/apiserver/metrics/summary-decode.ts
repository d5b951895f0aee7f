/**
 * A kubelet's Summary (`/stats/summary`) to metric points, as
 * metrics-server's summary decoder: per node and per container the
 * cumulative cpu (usageCoreNanoSeconds) at the cpu sample's time and the
 * memory working set. A point without a time, or with a zero or missing
 * counter, is bad data: the node is dropped, and a pod with any such
 * container is dropped whole (an autoscaler must see "missing", never a
 * made-up zero).
 */

/** One reading of one node or container. */
export interface MetricsPoint {
  /** When the container started (epoch ms); 0 for nodes, whose start is not compared. */
  readonly startTime: number;
  /** When cpu was read (epoch ms). */
  readonly timestamp: number;
  /** Cumulative cpu since start, in core-nanoseconds. */
  readonly cumulativeCpu: number;
  /** Working set, in bytes. */
  readonly memory: number;
}

/** One pod's containers, in the kubelet's order. */
export interface PodPoint {
  readonly namespace: string;
  readonly name: string;
  readonly containers: ReadonlyMap<string, MetricsPoint>;
}

/** What one scrape of one kubelet gave. */
export interface MetricsBatch {
  readonly nodes: Map<string, MetricsPoint>;
  /** By `namespace/name`. */
  readonly pods: Map<string, PodPoint>;
}

type Obj = Record<string, unknown>;

const obj = (v: unknown): Obj | undefined => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : undefined);

function time(v: unknown): number | undefined {
  if (typeof v !== "string" || v === "") return undefined;
  const t = Date.parse(v);
  // Go's zero time ("0001-01-01T00:00:00Z") is as good as none.
  return Number.isFinite(t) && t > Date.UTC(1, 0, 1) ? t : undefined;
}

/** The cpu counter and its time; undefined when either is missing or the counter is zero. */
function cpuOf(s: Obj): { timestamp: number; cumulative: number } | undefined {
  const cpu = obj(s.cpu);
  const t = time(cpu?.time);
  const n = cpu?.usageCoreNanoSeconds;
  if (t === undefined || typeof n !== "number" || !(n > 0)) return undefined;
  return { timestamp: t, cumulative: n };
}

function workingSetOf(s: Obj): number | undefined {
  const n = obj(s.memory)?.workingSetBytes;
  return typeof n === "number" && n > 0 ? n : undefined;
}

/** Decodes one Summary document; anything malformed is left out as the rules above say. */
export function decodeSummary(doc: unknown): MetricsBatch {
  const out: MetricsBatch = { nodes: new Map(), pods: new Map() };
  const summary = obj(doc) ?? {};
  const node = obj(summary.node);
  if (node && typeof node.nodeName === "string") {
    const cpu = cpuOf(node);
    const mem = workingSetOf(node);
    if (cpu && mem !== undefined) out.nodes.set(node.nodeName, { startTime: 0, timestamp: cpu.timestamp, cumulativeCpu: cpu.cumulative, memory: mem });
  }
  for (const p of Array.isArray(summary.pods) ? summary.pods : []) {
    const pod = obj(p);
    const ref = obj(pod?.podRef);
    if (!pod || typeof ref?.name !== "string" || typeof ref.namespace !== "string") continue;
    const containers = new Map<string, MetricsPoint>();
    let complete = true;
    for (const c of Array.isArray(pod.containers) ? pod.containers : []) {
      const co = obj(c);
      const start = time(co?.startTime);
      const cpu = co ? cpuOf(co) : undefined;
      const mem = co ? workingSetOf(co) : undefined;
      if (!co || typeof co.name !== "string" || start === undefined || !cpu || mem === undefined) {
        complete = false;
        break;
      }
      containers.set(co.name, { startTime: start, timestamp: cpu.timestamp, cumulativeCpu: cpu.cumulative, memory: mem });
    }
    if (complete) out.pods.set(`${ref.namespace}/${ref.name}`, { namespace: ref.namespace, name: ref.name, containers });
  }
  return out;
}
