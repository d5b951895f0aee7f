import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { ConfigMap, Namespace, ServiceAccount } from "kubernetes-types/core/v1.js";
import { alreadyExists, forbidden } from "../../machinery/status-error.js";
import { FakeListerWatcher, runningInformer, settle } from "../common/testing.js";
import { DESCRIPTION, DESCRIPTION_ANNOTATION, RootCaPublisher } from "./root-ca-publisher.js";
import { ServiceAccountsController } from "./serviceaccounts-controller.js";

const stops: AbortController[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s.abort();
});
const ns = (name: string, phase = "Active"): Namespace => ({ metadata: { name }, status: { phase } });

describe("ServiceAccount controller", () => {
  async function harness(namespaces: Namespace[], sas: ServiceAccount[] = []) {
    const stop = new AbortController();
    stops.push(stop);
    const nsSource = new FakeListerWatcher<Namespace>(namespaces);
    const saSource = new FakeListerWatcher<ServiceAccount>(sas);
    const created: string[] = [];
    let fail: Error | undefined;
    const controller = new ServiceAccountsController({
      namespaces: await runningInformer(nsSource, stop.signal),
      serviceAccounts: await runningInformer(saSource, stop.signal),
      api: {
        createServiceAccount: async (namespace, sa) => {
          if (fail) throw fail;
          created.push(`${namespace}/${sa.metadata?.name}`);
          saSource.set({ ...sa, metadata: { ...sa.metadata, namespace, uid: `${namespace}-uid` } });
        },
      },
    });
    void controller.run(stop.signal);
    return { controller, nsSource, saSource, created, setFail: (e: Error | undefined) => (fail = e) };
  }

  it("makes default in every active namespace, and again when it is deleted", async () => {
    const h = await harness([ns("a"), ns("b", "Terminating")], []);
    await waitFor(() => h.created.length === 1);
    assert.deepEqual(h.created, ["a/default"]);
    h.nsSource.set(ns("c"));
    await waitFor(() => h.created.length === 2);
    h.saSource.remove("a/default");
    await waitFor(() => h.created.length === 3);
    assert.deepEqual(h.created, ["a/default", "c/default", "a/default"]);
  });

  it("leaves an existing default alone and ignores AlreadyExists and terminating namespaces", async () => {
    const h = await harness([], []);
    h.saSource.set({ metadata: { name: "default", namespace: "x" } });
    h.nsSource.set(ns("x"));
    await settle();
    await h.controller.syncNamespace("x");
    assert.deepEqual(h.created, []);
    h.setFail(alreadyExists({ group: "", resource: "serviceaccounts" }, "default"));
    h.nsSource.set(ns("y"));
    await settle();
    await h.controller.syncNamespace("y");
    h.setFail(forbidden('serviceaccounts "default" is forbidden: unable to create new content in namespace y because it is being terminated'));
    await h.controller.syncNamespace("y");
    h.setFail(new Error("boom"));
    await assert.rejects(h.controller.syncNamespace("y"), /boom/);
    assert.deepEqual(h.created, []);
  });
});

describe("root CA publisher", () => {
  async function harness(namespaces: Namespace[], cms: ConfigMap[] = []) {
    const stop = new AbortController();
    stops.push(stop);
    const nsSource = new FakeListerWatcher<Namespace>(namespaces);
    const cmSource = new FakeListerWatcher<ConfigMap>(cms);
    const writes: string[] = [];
    const store = (verb: string) => async (namespace: string, cm: ConfigMap) => {
      writes.push(`${verb} ${namespace}`);
      cmSource.set({ ...cm, metadata: { ...cm.metadata, namespace } });
    };
    const controller = new RootCaPublisher({
      namespaces: await runningInformer(nsSource, stop.signal),
      configMaps: await runningInformer(cmSource, stop.signal),
      api: { createConfigMap: store("create"), updateConfigMap: store("update") },
      rootCA: "PEM",
    });
    void controller.run(stop.signal);
    return { controller, nsSource, cmSource, writes };
  }

  it("publishes kube-root-ca.crt in each namespace and puts it back when changed or deleted", async () => {
    const h = await harness([ns("a")]);
    await waitFor(() => h.writes.length === 1);
    const cm = h.cmSource.get("a/kube-root-ca.crt")!;
    assert.deepEqual(cm.data, { "ca.crt": "PEM" });
    assert.equal(cm.metadata?.annotations?.[DESCRIPTION_ANNOTATION], DESCRIPTION);
    h.cmSource.set({ ...cm, data: { "ca.crt": "tampered" } });
    await waitFor(() => h.writes.length === 2);
    assert.equal(h.writes[1], "update a");
    assert.deepEqual(h.cmSource.get("a/kube-root-ca.crt")!.data, { "ca.crt": "PEM" });
    h.cmSource.remove("a/kube-root-ca.crt");
    await waitFor(() => h.writes.length === 3);
    assert.equal(h.writes[2], "create a");
    await h.controller.syncNamespace("a");
    assert.equal(h.writes.length, 3, "nothing to do when it is right");
  });
});

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), "condition not reached");
}
