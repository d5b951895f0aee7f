/** DefaultBinder (Bind): binds through the Handle's bind function (the wiring's POST pods/binding). */
import type { Pod } from "kubernetes-types/core/v1.js";
import type { CycleState } from "../../framework/cycle-state.js";
import type { PluginRegistration } from "../../framework/registry.js";
import { Status } from "../../framework/status.js";
import type { BindPlugin, Handle } from "../../framework/types.js";
import { Names } from "../names.js";

export class DefaultBinder implements BindPlugin {
  readonly name = Names.DefaultBinder;

  constructor(private readonly handle: Handle) {}

  async bind(_state: CycleState, pod: Pod, nodeName: string): Promise<Status | null> {
    try {
      await this.handle.bind(pod, nodeName);
      return null;
    } catch (e) {
      // I/O failures surface here; as upstream, they become an Error status.
      return Status.asStatus(e instanceof Error ? e : new Error(String(e)));
    }
  }
}

export const defaultBinderRegistration: PluginRegistration = { factory: (_args, handle) => new DefaultBinder(handle) };
