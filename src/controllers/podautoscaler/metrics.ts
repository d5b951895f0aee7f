/**
 * What the HPA's replica calculator gets from a metrics source, as
 * upstream's pkg/controller/podautoscaler/metrics: per-pod values (milli
 * units), when they were sampled and over which window, and the clients
 * that fetch them.
 */

/** One pod's metric (upstream's PodMetric): `value` in milli-units (millicores, millibytes). */
export interface PodMetric {
  /** Epoch ms the sample was taken (0 when unknown). */
  readonly timestamp: number;
  /** The window the sample was rated over, in ms. */
  readonly windowMs: number;
  readonly value: number;
}

/** Pod name → metric (upstream's PodMetricsInfo); the calculator rewrites entries, so each call gets its own map. */
export type PodMetricsInfo = Map<string, PodMetric>;

/** The metrics the HPA reads (upstream's MetricsClient); failures throw with upstream's messages. */
export interface MetricsClient {
  /**
   * Per-pod usage of `resource` ("cpu", "memory") summed over the pods'
   * containers (or only `container`) for the pods `selector` (the scale's
   * selector string) picks in `namespace`, and the timestamp of the first sample.
   */
  getResourceMetric(resource: string, namespace: string, selector: string, container: string): Promise<{ metrics: PodMetricsInfo; timestamp: number }>;
  /** A custom per-pod metric (custom.metrics.k8s.io). */
  getRawMetric(metricName: string, namespace: string, selector: string, metricSelector: string): Promise<{ metrics: PodMetricsInfo; timestamp: number }>;
  /** A custom metric describing one object (custom.metrics.k8s.io). */
  getObjectMetric(metricName: string, namespace: string, objectRef: { kind: string; name: string; apiVersion?: string }, metricSelector: string): Promise<{ value: number; timestamp: number }>;
  /** An external metric's values (external.metrics.k8s.io). */
  getExternalMetric(metricName: string, namespace: string, metricSelector: string): Promise<{ values: number[]; timestamp: number }>;
}
