/** Helpers for plugin and framework tests. Only for tests. */
import type { Node, Pod } from "kubernetes-types/core/v1.js";
import { CycleState } from "../framework/cycle-state.js";
import { Framework, type FrameworkOptions } from "../framework/framework.js";
import type { NodeInfo } from "../framework/node-info.js";
import { Snapshot } from "../framework/snapshot.js";
import type { Status } from "../framework/status.js";
import type { Handle, NodeScore, Plugin, PreScorePlugin, ScorePlugin } from "../framework/types.js";
import type { Plugins } from "../config/types.js";
import { newInTreeRegistry } from "../plugins/registry.js";
import { Names } from "../plugins/names.js";

/** A framework over the in-tree registry with the given plugins (PrioritySort and DefaultBinder added). */
export function testFramework(plugins: Plugins, opts: FrameworkOptions = {}, pluginConfig: { name: string; args?: Record<string, unknown> }[] = []): Framework {
  const withRequired: Plugins = {
    ...plugins,
    queueSort: plugins.queueSort ?? { enabled: [{ name: Names.PrioritySort }] },
    bind: plugins.bind ?? { enabled: [{ name: Names.DefaultBinder }] },
  };
  const r = Framework.create(newInTreeRegistry(), { schedulerName: "default-scheduler", plugins: withRequired, pluginConfig }, opts);
  if (!r.ok) throw new Error(r.error);
  return r.framework;
}

/** A Handle over a snapshot of the given pods and nodes. */
export function handleFor(pods: Pod[], nodes: Node[], opts: FrameworkOptions = {}): Handle & { snapshot: Snapshot } {
  return testFramework({}, { ...opts, snapshot: Snapshot.fromObjects(pods, nodes) });
}

/** Runs PreScore (when the plugin has it), Score on every node and NormalizeScore. */
export function runScore(pl: Plugin & ScorePlugin, pod: Pod, nodes: readonly NodeInfo[]): NodeScore[] | Status {
  const state = new CycleState();
  const pre = (pl as Partial<PreScorePlugin>).preScore?.(state, pod, nodes);
  if (pre && !pre.isSuccess() && !pre.isSkip()) return pre;
  const scores: NodeScore[] = [];
  for (const ni of nodes) {
    const s = pl.score(state, pod, ni);
    if (typeof s !== "number") return s;
    scores.push({ name: ni.name, score: s });
  }
  const n = pl.scoreExtensions()?.normalizeScore(state, pod, scores);
  if (n && !n.isSuccess()) return n;
  return scores;
}
