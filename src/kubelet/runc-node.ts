/**
 * A real node: one kubelet whose pods run as containers (runc watched by
 * conmon) in network namespaces wired by the standard CNI plugins, with
 * images from the node's image store, volumes on the host, the kubelet API
 * (logs, exec, attach, port-forward) on its port, and log rotation and
 * image garbage collection running in the background. Everything it keeps
 * lives under `<data-dir>/agent/`, so several nodes on one machine (tests)
 * only need distinct data dirs, ports and `network`/`cgroupRoot` settings.
 */
import { statfs } from "node:fs/promises";
import { availableParallelism, hostname, totalmem } from "node:os";
import { join } from "node:path";
import type { Lease } from "kubernetes-types/coordination/v1.js";
import type { ConfigMap, Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, Secret, Service, ServiceAccount } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import type { NetworkPolicy } from "kubernetes-types/networking/v1.js";
import type { ClientConfig } from "../client/config.js";
import { EventRecorder } from "../client/event-recorder.js";
import { ResourceClient } from "../client/resource-client.js";
import {
  CONFIGMAPS,
  ENDPOINT_SLICES,
  LEASES,
  NAMESPACES,
  NETWORK_POLICIES,
  NODES,
  PERSISTENT_VOLUME_CLAIMS,
  PERSISTENT_VOLUMES,
  PODS,
  SECRETS,
  SERVICE_ACCOUNTS,
  SERVICES,
} from "../client/resources.js";
import { RestClient } from "../client/rest-client.js";
import { systemTimers } from "../client/timers.js";
import type { Logger } from "../machinery/log.js";
import { CniPodNetwork } from "../network/cni/cni-pod-network.js";
import { NodeRouteSync } from "../network/cni/node-route-sync.js";
import { systemVxlanDataplane, vxlanDeviceName } from "../network/cni/vxlan.js";
import { NetworkPolicyEnforcer } from "../network/policy/enforcer.js";
import { chooseProxyMode } from "../network/proxy/proxy-mode.js";
import { type ProxyMode, ServiceProxy } from "../network/proxy/service-proxy.js";
import { isNotFound } from "../machinery/status-error.js";
import { LOCAL_REGISTRY_HOSTING } from "../registry/hosting.js";
import { ClusterRegistry } from "../runtime/images/cluster-registry.js";
import { EMPTY_REGISTRY_CONFIG, loadRegistryConfig } from "../runtime/images/registry-config.js";
import { FileImageStore, imageStoreRoot } from "../runtime/images/store.js";
import { RuncRuntime } from "../runtime/runc/runc-runtime.js";
import { formatRuntimeError } from "../runtime/types.js";
import { type RunningAgent, runKubelets } from "./agent.js";
import type { KubeletConfig } from "./config.js";
import { recorderEvents } from "./events.js";
import { Kubelet } from "./kubelet.js";
import { Limiter } from "./limiter.js";
import { readHostInfo, readPressure } from "./node/host-info.js";
import { ContainerLogManager } from "./logs/log-rotation.js";
import { KubeletServer } from "./server/kubelet-server.js";
import { CgroupStatsProvider } from "./stats/cgroup-stats-provider.js";
import { WebhookAuthorizer, WebhookTokenAuthenticator } from "./server/webhook.js";
import { SystemMounter } from "./volumes/mounter.js";
import { ApiPodObjects } from "./volumes/objects.js";
import { VolumeManager } from "./volumes/volume-manager.js";
import { writeNodeHostRecord } from "./node-host-record.js";
import { streamingHandlers } from "./server/streaming/handlers.js";

/** What a real node needs. */
export interface RuncNodeOptions {
  readonly client: ClientConfig;
  readonly nodeName: string;
  /** The node's InternalIP: what the API server dials for logs and exec, and pods' hostIP. */
  readonly nodeIP: string;
  /** `<data-dir>`; the node keeps its state in `<data-dir>/agent/`. */
  readonly dataDir: string;
  readonly config: KubeletConfig;
  /** The cluster's client CA: the kubelet API authenticates client certificates against it. */
  readonly clientCaPem?: string;
  /** The pod network (every node's podCIDR lies in it) and the Service range, for the safety routes. */
  readonly clusterCidr: string;
  readonly serviceCidr: string;
  /** k3s' registries.yaml (mirrors, credentials, TLS) for image pulls. */
  readonly registriesFile?: string;
  /**
   * The API server's host as the node reaches it now, when `client.server` is not it (an agent behind its server
   * balancer): the cluster registry is reached there.
   */
  readonly apiServerHost?: () => string;
  /** Address the kubelet API listens on (0.0.0.0). */
  readonly kubeletBindAddress?: string;
  /** Run the service proxy (kube-proxy's nftables mode) on this node; default true. */
  readonly kubeProxy?: boolean;
  /** `--proxy-mode`: nftables or iptables; unset: nftables when it works here, else iptables (logged). */
  readonly proxyMode?: ProxyMode;
  /** Enforce NetworkPolicies for this node's pods; default true. */
  readonly networkPolicy?: boolean;
  readonly logger: Logger;
}

/** The host's capacity: cpu cores, memory, and the size of the filesystem holding the data dir. */
async function hostCapacity(dataDir: string): Promise<Record<string, string>> {
  const fs = await statfs(dataDir);
  return {
    cpu: String(availableParallelism()),
    memory: `${Math.floor(totalmem() / 1024)}Ki`,
    "ephemeral-storage": `${Math.floor((fs.blocks * fs.bsize) / 1024)}Ki`,
  };
}

/** Starts a real node; throws a message saying what is missing when it cannot. */
export async function startRuncNode(o: RuncNodeOptions): Promise<RunningAgent> {
  const log = o.logger.with({ component: "kubelet" });
  const cfg = o.config;
  const timers = systemTimers;
  const agentDir = join(o.dataDir, "agent");
  const rest = new RestClient({ ...o.client, userAgent: o.client.userAgent ?? "skiff-kubelet" }, { maxSockets: 16 });
  const cleanups: (() => Promise<void> | void)[] = [() => rest.close()];
  try {
    // The cluster registry by name (`localhost:PORT`), with no configuration: reached at the API server's
    // host, trusting the cluster CA, pulling as this node (see cluster-registry.ts).
    const hosting = new ResourceClient<ConfigMap>(rest, CONFIGMAPS).namespace(LOCAL_REGISTRY_HOSTING.namespace);
    const clusterRegistry = new ClusterRegistry({
      base: o.registriesFile ? loadRegistryConfig(o.registriesFile) : EMPTY_REGISTRY_CONFIG,
      access: {
        serverHost: o.apiServerHost ?? new URL(o.client.server).hostname.replace(/^\[(.*)\]$/, "$1"),
        ...(o.client.caPem !== undefined ? { caPem: o.client.caPem } : {}),
        ...(o.client.certPem !== undefined && o.client.keyPem !== undefined ? { certPem: o.client.certPem, keyPem: o.client.keyPem } : {}),
      },
      read: (signal) =>
        hosting.get(LOCAL_REGISTRY_HOSTING.name, { signal }).catch((err: unknown) => {
          if (isNotFound(err)) return undefined;
          throw err;
        }),
      logger: log,
    });
    {
      const abort = new AbortController();
      const running = clusterRegistry.run(abort.signal);
      cleanups.unshift(async () => {
        abort.abort();
        await running;
      });
    }
    const images = new FileImageStore({ root: imageStoreRoot(o.dataDir), registryConfig: () => clusterRegistry.config(), log });
    const network = new CniPodNetwork({
      stateDir: join(agentDir, "cni"),
      binDirs: cfg.network.cniBinDirs,
      netnsPrefix: cfg.network.netnsPrefix,
      bridgeName: cfg.network.bridgeName,
      clusterCidr: o.clusterCidr,
      serviceCidr: o.serviceCidr,
      logger: log,
    });
    // Before anything lands on the host: `skiff uninstall` reads this to find it all again.
    writeNodeHostRecord(o.dataDir, {
      nodeName: o.nodeName,
      bridgeName: cfg.network.bridgeName,
      netnsPrefix: cfg.network.netnsPrefix,
      cgroupRoot: cfg.cgroupRoot,
      cniBinDirs: cfg.network.cniBinDirs,
      clusterCidr: o.clusterCidr,
      serviceCidr: o.serviceCidr,
    });
    const started = await network.start();
    if (!started.ok) log.warn("pod network not ready yet", { err: formatRuntimeError(started.error) });
    const runtime = new RuncRuntime({ rootDir: join(agentDir, "runtime"), cgroupParent: cfg.cgroupRoot, network, images, logger: log });
    cleanups.push(() => runtime.close());

    const objects = new ApiPodObjects({
      configMaps: new ResourceClient<ConfigMap>(rest, CONFIGMAPS),
      secrets: new ResourceClient<Secret>(rest, SECRETS),
      services: new ResourceClient<Service>(rest, SERVICES),
      persistentVolumeClaims: new ResourceClient<PersistentVolumeClaim>(rest, PERSISTENT_VOLUME_CLAIMS),
      persistentVolumes: new ResourceClient<PersistentVolume>(rest, PERSISTENT_VOLUMES),
      serviceAccounts: new ResourceClient<ServiceAccount>(rest, SERVICE_ACCOUNTS),
      clock: timers,
    });
    const capacity = await hostCapacity(o.dataDir);
    const volumes = new VolumeManager({
      rootDir: join(agentDir, "kubelet"),
      mounter: new SystemMounter(),
      objects,
      clock: timers,
      logger: log,
      clusterDomain: cfg.clusterDomain,
    });
    const podLogsDir = join(agentDir, "logs");

    // The kubelet API first: a port of 0 becomes the real one the Node advertises.
    let kubelet: Kubelet | undefined;
    const stats = new CgroupStatsProvider({
      nodeName: o.nodeName,
      runtime,
      cgroupRoot: cfg.cgroupRoot,
      rootDir: join(agentDir, "kubelet"),
      imageFsDir: imageStoreRoot(o.dataDir),
      containerWritableDir: (id) => runtime.paths.upper(id),
      pods: () => kubelet?.pods() ?? [],
      logger: log,
    });
    stats.start();
    cleanups.push(() => stats.stop());
    const server = new KubeletServer({
      nodeName: o.nodeName,
      port: cfg.port,
      bindAddress: o.kubeletBindAddress ?? "0.0.0.0",
      certDir: join(agentDir, "pki", o.nodeName),
      addresses: [o.nodeIP],
      clientCaPem: o.clientCaPem,
      tokenAuthenticator: new WebhookTokenAuthenticator({ client: rest }),
      authorizer: new WebhookAuthorizer({ client: rest }),
      pods: { podByName: (ns, name) => kubelet?.podByName(ns, name), pods: () => kubelet?.pods() ?? [] },
      runtime,
      streaming: streamingHandlers({ logger: log }),
      stats,
      podLogsDir,
      logger: log,
    });
    const port = await server.start();
    cleanups.push(() => server.stop());

    const recorder = new EventRecorder({ sink: rest, reportingController: "kubelet", reportingInstance: o.nodeName, timers, logger: log });
    cleanups.push(() => recorder.shutdown());
    kubelet = new Kubelet({
      nodeName: o.nodeName,
      nodeIP: o.nodeIP,
      capacity,
      runtime,
      config: { ...cfg, port },
      pods: new ResourceClient<Pod>(rest, PODS),
      nodes: new ResourceClient<Node>(rest, NODES),
      leases: new ResourceClient<Lease>(rest, LEASES),
      events: recorderEvents(recorder),
      timers,
      logger: log,
      limiter: new Limiter(16),
      dns: { servers: cfg.clusterDNS, domain: cfg.clusterDomain },
      extraLabels: { "node.skiff.io/runtime": "runc" },
      volumes,
      objects,
      podLogsDir,
      host: readHostInfo(),
      pressure: () => readPressure(o.dataDir),
    });
    const k = kubelet;
    const run = runKubelets({ kubelets: [k], pods: new ResourceClient<Pod>(rest, PODS), nodes: new ResourceClient<Node>(rest, NODES), single: true, logger: log, timers });
    cleanups.unshift(() => run.stop());

    // Other nodes' pods are reached through their node IPs when on-link (flannel's host-gw), over VXLAN
    // otherwise (a loopback node IP has no network to tunnel over); the routes outlive a restart.
    const nodesClient = new ResourceClient<Node>(rest, NODES);
    const vxlan = o.nodeIP.startsWith("127.")
      ? undefined
      : {
          dataplane: systemVxlanDataplane(vxlanDeviceName(cfg.network.bridgeName), o.nodeIP),
          publish: async (annotations: Record<string, string>) => void (await nodesClient.patch(o.nodeName, { metadata: { annotations } }, { type: "merge" })),
        };
    const routes = new NodeRouteSync({ nodes: nodesClient, nodeName: o.nodeName, nodeIP: o.nodeIP, clusterCidr: o.clusterCidr, logger: log, timers, ...(vxlan ? { vxlan } : {}) });
    const routesAbort = new AbortController();
    const routesRun = routes.run(routesAbort.signal).catch((err: Error) => {
      if (!routesAbort.signal.aborted) log.error("the routes to other nodes' pods stopped", { err: err.message });
    });
    cleanups.unshift(async () => {
      routesAbort.abort();
      await routesRun;
    });

    // Services and NetworkPolicies in the kernel, as kube-proxy and a policy-enforcing CNI do; their
    // rules stay when the agent stops (traffic keeps flowing across a restart) and go with --cleanup.
    const background = (what: string, start: (signal: AbortSignal) => Promise<void>) => {
      const abort = new AbortController();
      const running = start(abort.signal).catch((err: Error) => {
        if (!abort.signal.aborted) log.error(`the ${what} stopped`, { err: err.message });
      });
      cleanups.unshift(async () => {
        abort.abort();
        await running;
      });
    };
    if (o.kubeProxy !== false) {
      const proxy = new ServiceProxy({
        mode: await chooseProxyMode(o.proxyMode, log),
        services: new ResourceClient<Service>(rest, SERVICES),
        endpointSlices: new ResourceClient<EndpointSlice>(rest, ENDPOINT_SLICES),
        nodeName: o.nodeName,
        nodeIPs: [o.nodeIP],
        clusterCidr: o.clusterCidr,
        serviceCidr: o.serviceCidr,
        tableSuffix: cfg.network.bridgeName,
        logger: o.logger.with({ component: "kube-proxy" }),
        timers,
      });
      background("service proxy", (signal) => proxy.run(signal));
    }
    if (o.networkPolicy !== false) {
      const policies = new NetworkPolicyEnforcer({
        pods: new ResourceClient<Pod>(rest, PODS),
        namespaces: new ResourceClient<Namespace>(rest, NAMESPACES),
        networkPolicies: new ResourceClient<NetworkPolicy>(rest, NETWORK_POLICIES),
        nodeName: o.nodeName,
        tableSuffix: cfg.network.bridgeName,
        logger: o.logger.with({ component: "network-policy" }),
        timers,
      });
      background("NetworkPolicy enforcer", (signal) => policies.run(signal));
    }

    const logs = new ContainerLogManager({ runtime, maxSizeBytes: cfg.containerLogMaxSizeBytes, maxFiles: cfg.containerLogMaxFiles, podLogsDir, logger: log });
    logs.start();
    cleanups.unshift(() => logs.stop());

    // Housekeeping once the pod watch has listed: before that, every pod would look orphaned.
    const housekeeping = async () => {
      await k.cleanupOrphanedPodDirs().catch((err: Error) => log.warn("could not clean up orphaned pod directories", { err: err.message }));
      const inUse = new Set<string>();
      const listed = await runtime.listContainers();
      if (listed.ok) for (const c of listed.value) inUse.add(c.imageRef);
      const gc = await images.garbageCollect({ highThresholdPercent: cfg.imageGCHighThresholdPercent, lowThresholdPercent: cfg.imageGCLowThresholdPercent, inUse });
      if (!gc.ok) log.warn("image garbage collection failed", { err: formatRuntimeError(gc.error) });
    };
    let timer: NodeJS.Timeout | undefined;
    void run.podsSynced.then((synced) => {
      if (!synced) return;
      void housekeeping();
      timer = setInterval(() => void housekeeping(), 5 * 60_000);
      timer.unref();
    });
    cleanups.unshift(() => clearInterval(timer));
    log.info("node agent started", { node: o.nodeName, nodeIP: o.nodeIP, kubeletPort: port, host: hostname() });
    return {
      kubelets: [k],
      registered: run.registered,
      async stop() {
        for (const c of cleanups) await c();
      },
    };
  } catch (err) {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
    throw err;
  }
}
