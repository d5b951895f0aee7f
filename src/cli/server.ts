/**
 * `skiff server`: runs the control plane of a cluster: the cluster store
 * (with automatic compaction and scheduled snapshots) and the API server
 * over HTTPS, with the cluster's certificates and an admin kubeconfig.
 */
import { accessSync, constants, mkdirSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { hostname, networkInterfaces } from "node:os";
import { join } from "node:path";
import { isIPv4 } from "node:net";
import type { Command } from "commander";
import { parseDuration } from "../machinery/duration.js";
import { consoleLogger, type Logger } from "../machinery/log.js";
import { Compactor } from "../storage/compactor.js";
import { type Datastore, describeDatastore, openDatastore, parseDatastoreEndpoint, recordDatastore } from "../storage/datastore.js";
import { SnapshotManager, validateCron } from "../storage/snapshot/manager.js";
import type { Store } from "../storage/store.js";
import { AuthenticatorChain, bearerTokenAuthenticator, StaticTokens, x509Authenticator } from "../apiserver/auth/authn.js";
import { loadTokenFile } from "../apiserver/auth/token-file.js";
import { bootstrapNamespaces, ensureSystemPriorityClasses } from "../apiserver/bootstrap.js";
import { ApiServer } from "../apiserver/server.js";
import { indexedIP } from "../apiserver/services/ip.js";
import { reconcileKubernetesService } from "../apiserver/services/kubernetes-service.js";
import { MasterLeases } from "../apiserver/services/master-leases.js";
import { ServiceAllocationRepair } from "../apiserver/services/repair.js";
import { serviceStrategy } from "../apiserver/services/service-strategy.js";
import { ensureClusterPki } from "../pki/cluster-pki.js";
import { adminKubeconfigPath } from "./kubeconfig.js";
import { buildKubeconfig, kubeconfigChain, mergeKubeconfigChain, writeKubeconfig } from "./kubeconfig-file.js";
import { defaultDataDir } from "./data-dir.js";
import { checkDisabled, DISABLEABLE, schedulerConfig, startControlPlane } from "./control-plane.js";
import { cidrContainsIp, cidrsOverlap, ipToNumber, parseCidr, tryParseCidr } from "../machinery/cidr.js";
import { joinRoutes } from "../apiserver/join/routes.js";
import { ensureServerToken } from "../pki/join-token.js";
import { defaultNodeIP, kubeletConfigOf } from "./agent.js";
import { ensureLocalPathStorageClass } from "../controllers/localpath/storage-class.js";
import { claimDataDir } from "./server-lock.js";
import type { EmbeddedEtcd } from "../etcd/embedded-etcd.js";
import { prepareServerJoin, startServerEtcd, wantsEmbeddedEtcd } from "../etcd/server-etcd.js";
import { readServerBootstrapFiles, serverBootstrapRoute } from "../etcd/server-bootstrap.js";
import { leadScheduledSnapshots } from "../etcd/snapshot-leader.js";
import { resetEtcdCluster } from "../etcd/cluster-reset.js";
import { startNetworkAddons } from "./network-addons.js";
import { localRegistryHosting } from "../registry/hosting.js";
import { publishLocalRegistryHosting } from "../registry/publish-hosting.js";
import { startServerRegistry } from "./registry.js";
import { startServerAgent } from "./server-agent.js";
import { ensureServiceAccountKey, serviceAccountKeyPath } from "../apiserver/auth/serviceaccount/keys.js";
import { type ServiceAccountFlags, ServiceAccountTokens, serviceAccountConfigFromFlags } from "../apiserver/auth/serviceaccount/service-account-tokens.js";
import { addHpaOptions, type HpaFlags, parseHpaFlags } from "../controllers/podautoscaler/flags.js";
import { defaultEncryptionConfigPath, ensureEncryptionConfig, loadEncryptionConfig } from "../apiserver/encryption/config.js";
import { EncryptingStore, ResourceTransformers } from "../apiserver/encryption/encrypting-store.js";
import { proxyModeOption } from "../network/proxy/proxy-mode.js";
import type { ProxyMode } from "../network/proxy/service-proxy.js";

export interface ServerFlags extends HpaFlags, ServiceAccountFlags {
  dataDir: string;
  clusterInit?: boolean;
  clusterReset?: boolean;
  clusterResetRestorePath?: string;
  server?: string;
  token?: string;
  etcdClientPort: string;
  etcdPeerPort: string;
  advertiseAddress?: string;
  datastoreEndpoint?: string;
  datastoreCafile?: string;
  datastoreCertfile?: string;
  datastoreKeyfile?: string;
  snapshotSchedule: string;
  snapshotRetention: string;
  disableSnapshots?: boolean;
  compactionInterval: string;
  nodeName?: string;
  httpsPort: string;
  bindAddress: string;
  clusterName: string;
  kubeconfigMerge: boolean;
  tlsSan?: string[];
  serviceCidr: string;
  clusterCidr: string;
  disable?: string[];
  schedulerConfig?: string;
  tokenAuthFile?: string;
  disableAgent?: boolean;
  disableAdmissionPlugins?: string;
  nodeIp?: string;
  kubeletConfig?: string;
  kubeletPort?: string;
  privateRegistry?: string;
  metricResolution?: string;
  nodeMonitorGracePeriod: string;
  encryptionProviderConfig?: string;
  clusterDns?: string;
  clusterDomain: string;
  clusterDnsPort: string;
  resolvConf?: string;
  ingressHttpPort: string;
  ingressHttpsPort: string;
  disableKubeProxy?: boolean;
  registryPort: string;
  registryDir?: string;
  registryAnonymousPull?: string[];
  proxyMode?: ProxyMode;
  disableNetworkPolicy?: boolean;
}

/** A running server; `stop` shuts it down cleanly. */
export interface RunningServer {
  readonly store: Store;
  readonly datastore: Datastore;
  readonly snapshots: SnapshotManager;
  readonly api: ApiServer;
  /** The port the API server listens on. */
  readonly port: number;
  stop(): Promise<void>;
}

/** Where snapshots of a data dir live. */
export function snapshotDir(dataDir: string): string {
  return join(dataDir, "db", "snapshots");
}

/** The name this machine uses as a node (lower-case host name, as the kubelet does). */
export function defaultNodeName(): string {
  return hostname().toLowerCase();
}

/** Validates flags, opens the store and starts background work. */
export async function startServer(flags: ServerFlags, log: Logger, signal?: AbortSignal): Promise<RunningServer> {
  const dataDir = flags.dataDir;
  try {
    mkdirSync(join(dataDir, "db"), { recursive: true, mode: 0o700 });
    accessSync(dataDir, constants.W_OK);
  } catch (err) {
    throw new Error(
      `cannot use --data-dir ${dataDir}: ${(err as Error).message}. Run as root, or pass a writable --data-dir (for example ~/.local/share/skiff).`,
    );
  }
  const disabled = checkDisabled(flags.disable ?? []);
  checkClusterCidrs(flags.clusterCidr, flags.serviceCidr);
  const scheduling = schedulerConfig(flags.schedulerConfig);
  const staticTokens = flags.tokenAuthFile ? loadTokenFile(flags.tokenAuthFile) : undefined;
  const serviceAccountConfig = serviceAccountConfigFromFlags(flags);
  const kubeletConfig = !flags.disableAgent ? kubeletConfigOf(flags.kubeletConfig, flags.kubeletPort) : undefined;
  const clusterDnsIP = clusterDnsAddress(flags.clusterDns, flags.serviceCidr);
  const addonPorts = {
    dns: parsePort(flags.clusterDnsPort, "--cluster-dns-port"),
    http: parsePort(flags.ingressHttpPort, "--ingress-http-port"),
    https: parsePort(flags.ingressHttpsPort, "--ingress-https-port"),
    registry: parsePort(flags.registryPort, "--registry-port"),
  };
  const compactionMs = parseDuration(flags.compactionInterval);
  let nodeMonitorGracePeriodMs: number;
  try {
    nodeMonitorGracePeriodMs = parseDuration(flags.nodeMonitorGracePeriod);
  } catch (err) {
    throw new Error(`--node-monitor-grace-period: ${(err as Error).message}`);
  }
  if (!(nodeMonitorGracePeriodMs > 0)) throw new Error(`--node-monitor-grace-period must be greater than 0, not ${flags.nodeMonitorGracePeriod}`);
  const metricResolutionMs = parseMetricResolution(flags.metricResolution);
  const hpaSettings = parseHpaFlags(flags);
  const retention = Number(flags.snapshotRetention);
  if (!Number.isInteger(retention) || retention < 1) throw new Error(`--snapshot-retention must be a whole number >= 1, not ${flags.snapshotRetention}`);
  if (!flags.disableSnapshots) {
    const bad = validateCron(flags.snapshotSchedule);
    if (bad) throw new Error(bad);
  }
  const tls = flags.datastoreCafile || flags.datastoreCertfile || flags.datastoreKeyfile
    ? { caFile: flags.datastoreCafile, certFile: flags.datastoreCertfile, keyFile: flags.datastoreKeyfile }
    : undefined;
  const embeddedEtcd = wantsEmbeddedEtcd(flags);
  // A joining server first takes the cluster's shared keys (CAs, encryption config, token): everything below reads them.
  const joinEtcd = embeddedEtcd ? await prepareServerJoin(flags, log) : undefined;
  let datastore = parseDatastoreEndpoint(flags.datastoreEndpoint, dataDir, tls);

  // Secrets are encrypted at rest by default: the first start makes a key (k3s keeps it with the certificates).
  const encryptionConfigPath = flags.encryptionProviderConfig ?? defaultEncryptionConfigPath(dataDir);
  const ensured = flags.encryptionProviderConfig ? { config: loadEncryptionConfig(encryptionConfigPath), created: false } : ensureEncryptionConfig(encryptionConfigPath);
  if (ensured.created) log.info("created encryption key for secrets at rest", { encryptionProviderConfig: encryptionConfigPath });
  const transformers = new ResourceTransformers(ensured.config);

  // The one address this server gives others (agents, other servers, the kubernetes endpoints, token issuers).
  const advertised = flags.advertiseAddress ?? advertiseAddress(flags.bindAddress);
  const release = claimDataDir(dataDir);
  const started = Date.now();
  let store: Store;
  let etcd: EmbeddedEtcd | undefined;
  try {
    if (embeddedEtcd) {
      etcd = await startServerEtcd(flags, {
        nodeName: flags.nodeName ?? defaultNodeName(),
        advertiseAddress: advertised,
        ...(joinEtcd ? { join: joinEtcd } : {}),
        logger: log,
      });
      datastore = etcd.datastore;
    }
    log.info("opening store", { datastore: describeDatastore(datastore), encryptionProviderConfig: encryptionConfigPath });
    store = new EncryptingStore(await openDatastore(datastore, { logger: log, signal }), transformers);
  } catch (err) {
    await etcd?.stop();
    release();
    throw err;
  }
  recordDatastore(dataDir, datastore);
  const st = await store.status();
  log.info("store ready", {
    datastore: describeDatastore(datastore),
    revision: st.revision,
    keys: st.keys,
    dbBytes: st.dbSizeBytes,
    tookMs: Date.now() - started,
  });

  const compactor = new Compactor({ store, windowMs: compactionMs, logger: log.with({ component: "compactor" }) });
  compactor.start();
  const snapshots = new SnapshotManager({
    dir: snapshotDir(dataDir),
    nodeName: flags.nodeName ?? defaultNodeName(),
    logger: log.with({ component: "snapshot" }),
  });
  // Servers sharing an etcd cluster elect the one that takes the scheduled snapshots (once the API serves, below).
  if (!flags.disableSnapshots && !etcd) snapshots.schedule(store, flags.snapshotSchedule, retention);

  let api: ApiServer | undefined;
  let port: number;
  let stopControlPlane: (() => Promise<void>) | undefined;
  let stopAgent: (() => Promise<void>) | undefined;
  let stopAddons: (() => Promise<void>) | undefined;
  let stopRegistry: (() => Promise<void>) | undefined;
  let removeFromEndpoints: (() => Promise<void>) | undefined;
  let stopSnapshotLeader: (() => Promise<void>) | undefined;
  const masterLeases = new MasterLeases(store);
  const timers: NodeJS.Timeout[] = [];
  try {
    const pki = await ensureClusterPki({
      tlsDir: join(dataDir, "tls"),
      clusterName: flags.clusterName,
      // The address this server advertises (to agents, other servers, the kubernetes endpoints) must be on its certificate.
      extraSans: { dns: [...(flags.tlsSan ?? []), ...(flags.advertiseAddress ? [flags.advertiseAddress] : []), ...(isSpecific(flags.bindAddress) ? [flags.bindAddress] : [])] },
      serviceIP: indexedIP(flags.serviceCidr, 1),
      logger: log.with({ component: "pki" }),
    });
    const read = (f: string) => readFileSync(f, "utf8");
    const serverCaPem = read(pki.serverCa.certFile);
    const joinToken = ensureServerToken(join(dataDir, "token"), serverCaPem);
    const services = serviceStrategy(store, { serviceCIDR: flags.serviceCidr, logger: log.with({ component: "services" }) });
    const serviceAccountKeyFile = serviceAccountKeyPath(join(dataDir, "tls"));
    const serviceAccountTokens = new ServiceAccountTokens({
      key: ensureServiceAccountKey(serviceAccountKeyFile),
      config: serviceAccountConfig,
      logger: log.with({ component: "apiserver" }),
    });
    api = new ApiServer({
      store,
      strategyFor: (r) => (r.plural === "services" && r.group === "" ? services : undefined),
      tls: { key: read(pki.serving.keyFile), cert: read(pki.serving.certFile), clientCA: read(pki.clientCa.certFile) },
      bindAddress: flags.bindAddress,
      port: parsePort(flags.httpsPort, "--https-port"),
      authenticator: new AuthenticatorChain([
        x509Authenticator,
        bearerTokenAuthenticator([...(staticTokens ? [new StaticTokens(staticTokens)] : []), serviceAccountTokens.boundAuthenticator, serviceAccountTokens.legacyAuthenticator]),
      ]),
      serviceAccountTokens,
      kubeletClient: {
        certPem: read(pki.clients.kubeApiserverKubeletClient.certFile),
        keyPem: read(pki.clients.kubeApiserverKubeletClient.keyFile),
        preferredAddressTypes: ["InternalIP", "ExternalIP", "Hostname"],
      },
      publicRoutes: anyRoute(
        joinRoutes({
          serverCaPem,
          clientCa: { certPem: read(pki.clientCa.certFile), keyPem: read(pki.clientCa.keyFile) },
          token: joinToken,
          logger: log.with({ component: "join" }),
        }),
        serverBootstrapRoute({
          token: joinToken,
          bootstrap: async () => (etcd ? { files: readServerBootstrapFiles(dataDir, encryptionConfigPath), etcdClientURLs: await etcd.clientURLs() } : undefined),
          logger: log.with({ component: "join" }),
        }),
      ),
      metricResolutionMs,
      disabledAdmissionPlugins: (flags.disableAdmissionPlugins ?? "").split(",").map((s) => s.trim()).filter(Boolean),
      logger: log.with({ component: "apiserver" }),
    });
    await bootstrapNamespaces(api, log.with({ component: "apiserver" }));
    await ensureSystemPriorityClasses(api.objects("scheduling.k8s.io", "v1", "priorityclasses"), log.with({ component: "apiserver" }));
    await ensureLocalPathStorageClass(api.objects("storage.k8s.io", "v1", "storageclasses"), log.with({ component: "apiserver" }));
    const repair = new ServiceAllocationRepair({
      services: api.objects("", "v1", "services"),
      ips: services.ips,
      nodePorts: services.nodePorts,
      logger: log.with({ component: "services" }),
    });
    await repair.runOnce();
    port = await api.start();
    serviceAccountTokens.setExternalAddress(`${advertised.includes(":") ? `[${advertised}]` : advertised}:${port}`);
    const apiServer = api;
    const listenPort = port;
    const reconcileWith = (apiServerIPs: readonly string[] | undefined, includeSelf = true) =>
      reconcileKubernetesService({
        services: apiServer.objects("", "v1", "services"),
        endpoints: apiServer.objects("", "v1", "endpoints"),
        endpointSlices: apiServer.objects("discovery.k8s.io", "v1", "endpointslices"),
        apiServerIP: advertised,
        ...(apiServerIPs ? { apiServerIPs } : {}),
        includeSelf,
        port: listenPort,
        serviceIP: indexedIP(flags.serviceCidr, 1),
        logger: log.with({ component: "apiserver" }),
      });
    // Upstream's lease endpoint reconciler: the endpoints list every API server whose lease is alive.
    const reconcile = async () => {
      let live: string[] | undefined;
      try {
        await masterLeases.update(advertised);
        live = await masterLeases.list();
      } catch (err) {
        log.warn("cannot renew this API server's endpoint lease", { err: (err as Error).message });
      }
      return reconcileWith(live);
    };
    removeFromEndpoints = async () => {
      try {
        await masterLeases.remove(advertised);
        await reconcileWith(await masterLeases.list(), false);
      } catch (err) {
        log.warn("cannot remove this API server from the kubernetes endpoints", { err: (err as Error).message });
      }
    };
    await reconcile();
    // As upstream's endpoint reconciler and allocation repair loops.
    timers.push(setInterval(() => void reconcile(), 10_000), setInterval(() => void repair.runOnce(), 180_000));
    for (const t of timers) t.unref();
    const host = flags.bindAddress === "0.0.0.0" || flags.bindAddress === "::" ? "127.0.0.1" : flags.bindAddress;
    // What this machine's own clients (kubeconfig, components, the agent, server jobs) dial.
    const localApi = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
    const kubeconfig = buildKubeconfig({
      clusterName: flags.clusterName,
      server: localApi,
      caPem: read(pki.serverCa.certFile),
      clientCertPem: read(pki.clients.admin.certFile),
      clientKeyPem: read(pki.clients.admin.keyFile),
    });
    writeKubeconfig(adminKubeconfigPath(dataDir), kubeconfig);
    if (!flags.disableSnapshots && etcd) {
      stopSnapshotLeader = leadScheduledSnapshots({
        server: localApi,
        caFile: pki.serverCa.certFile,
        certFile: pki.clients.skiffController.certFile,
        keyFile: pki.clients.skiffController.keyFile,
        snapshots,
        store,
        schedule: flags.snapshotSchedule,
        retention,
        logger: log,
      });
    }
    stopControlPlane = startControlPlane({
      server: localApi,
      pki,
      disabled,
      schedulerConfig: scheduling,
      controllerSettings: {
        clusterCidr: flags.clusterCidr,
        nodeCidrMaskSize: 24,
        nodeMonitorGracePeriodMs,
        ...hpaSettings,
        storageDir: join(dataDir, "storage"),
        localNodeName: kubeletConfig ? (flags.nodeName ?? defaultNodeName()) : undefined,
        rootCaFile: pki.serverCa.certFile,
        serviceAccountPrivateKeyFile: serviceAccountKeyFile,
      },
      logger: log,
    });
    const nodeIP = flags.nodeIp ?? defaultNodeIP();
    stopAddons = startNetworkAddons({
      server: localApi,
      caFile: pki.serverCa.certFile,
      certFile: pki.clients.skiffController.certFile,
      keyFile: pki.clients.skiffController.keyFile,
      disabled,
      nodeAddress: kubeletConfig ? nodeIP : advertised,
      ...(kubeletConfig ? { nodeName: flags.nodeName ?? defaultNodeName() } : {}),
      clusterDomain: flags.clusterDomain,
      clusterCidr: flags.clusterCidr,
      clusterDnsIP,
      dnsPort: addonPorts.dns,
      resolvConf: flags.resolvConf ?? "/etc/resolv.conf",
      ingressAddress: flags.bindAddress,
      ingressHttpPort: addonPorts.http,
      ingressHttpsPort: addonPorts.https,
      objects: {
        services: apiServer.objects("", "v1", "services"),
        endpoints: apiServer.objects("", "v1", "endpoints"),
        endpointSlices: apiServer.objects("discovery.k8s.io", "v1", "endpointslices"),
      },
      logger: log,
    });
    let registryPort: number | undefined;
    if (!disabled.includes("registry")) {
      const registry = await startServerRegistry({
        dataDir,
        dir: flags.registryDir ?? join(dataDir, "registry"),
        host: flags.bindAddress,
        port: addonPorts.registry,
        certFile: pki.serving.certFile,
        keyFile: pki.serving.keyFile,
        clientCaFile: pki.clientCa.certFile,
        anonymousPull: flags.registryAnonymousPull ?? [],
        logger: log,
      });
      stopRegistry = registry?.stop;
      registryPort = registry?.port;
    }
    {
      // KEP-1755's ConfigMap: how nodes (and tools) learn the registry's name; repaired as upstream's reconcilers are.
      const clusterAddress = advertised.startsWith("127.") || advertised === "::1" ? undefined : advertised;
      const hosting = registryPort === undefined ? undefined : localRegistryHosting(registryPort, clusterAddress);
      const publish = () => publishLocalRegistryHosting(apiServer.objects("", "v1", "configmaps"), hosting, log.with({ component: "registry" }));
      await publish();
      const t = setInterval(() => void publish(), 60_000);
      t.unref();
      timers.push(t);
    }
    if (kubeletConfig) {
      stopAgent = await startServerAgent({
        server: localApi,
        serverCaPem,
        clientCa: { certPem: read(pki.clientCa.certFile), keyPem: read(pki.clientCa.keyFile) },
        dataDir,
        nodeName: flags.nodeName ?? defaultNodeName(),
        nodeIP,
        config: { ...kubeletConfig, clusterDNS: [clusterDnsIP], clusterDomain: flags.clusterDomain },
        kubeProxy: !flags.disableKubeProxy,
        ...(flags.proxyMode !== undefined ? { proxyMode: flags.proxyMode } : {}),
        networkPolicy: !flags.disableNetworkPolicy,
        clusterCidr: flags.clusterCidr,
        serviceCidr: flags.serviceCidr,
        registriesFile: flags.privateRegistry,
        logger: log,
      });
    }
    log.info("API server listening", { address: flags.bindAddress, port, kubeconfig: adminKubeconfigPath(dataDir), joinToken: join(dataDir, "token") });
    if (flags.kubeconfigMerge) {
      try {
        const r = mergeKubeconfigChain(kubeconfigChain({ env: process.env }), kubeconfig, { setCurrentContext: true });
        log.info(r.added ? "added kubeconfig context" : "updated kubeconfig context", { context: r.contextName, path: r.path });
      } catch (err) {
        log.warn("could not merge the kubeconfig; use --kubeconfig with the file above", { err: (err as Error).message });
      }
    }
  } catch (err) {
    await stopSnapshotLeader?.();
    await stopAgent?.();
    await stopRegistry?.();
    await stopAddons?.();
    await stopControlPlane?.();
    await api?.stop();
    snapshots.stop();
    compactor.stop();
    await store.close();
    await etcd?.stop();
    release();
    throw err;
  }

  let stopped = false;
  return {
    store,
    datastore,
    snapshots,
    api,
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const t of timers) clearInterval(t);
      await removeFromEndpoints?.();
      await stopSnapshotLeader?.();
      await stopAgent?.();
      await stopRegistry?.();
      await stopAddons?.();
      await stopControlPlane?.();
      await api.stop();
      snapshots.stop();
      compactor.stop();
      await store.close();
      await etcd?.stop();
      release();
      log.info("server stopped");
    },
  };
}

/** Whether `--bind-address` names one address (not every interface). */
function isSpecific(bind: string): boolean {
  return bind !== "0.0.0.0" && bind !== "::";
}

type PublicRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

/** The first route that answers. */
function anyRoute(...routes: PublicRoute[]): PublicRoute {
  return async (req, res, url) => {
    for (const route of routes) if (await route(req, res, url)) return true;
    return false;
  };
}

/** The address other machines reach the API server on: the bind address, or this host's first external IPv4. */
function advertiseAddress(bind: string): string {
  if (bind !== "0.0.0.0" && bind !== "::") return bind;
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return "127.0.0.1";
}

/** Both ranges parse and do not overlap; throws a message naming the flags. */
function checkClusterCidrs(clusterCidr: string, serviceCidr: string): void {
  const parse = (text: string, flag: string) => {
    try {
      return parseCidr(text);
    } catch (err) {
      throw new Error(`${flag}: ${(err as Error).message}`);
    }
  };
  const pods = parse(clusterCidr, "--cluster-cidr");
  const svcs = parse(serviceCidr, "--service-cidr");
  if (pods.prefix > 24) throw new Error(`--cluster-cidr ${clusterCidr} is too small: each node takes a /24 from it`);
  if (cidrsOverlap(pods, svcs)) throw new Error(`--cluster-cidr ${clusterCidr} and --service-cidr ${serviceCidr} overlap; pick disjoint ranges`);
}

/** `--metric-resolution` (metrics-server's flag): a duration of at least 1s (15s when not given). */
function parseMetricResolution(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (err) {
    throw new Error(`--metric-resolution: ${(err as Error).message}`);
  }
  if (ms < 1000) throw new Error(`--metric-resolution must be at least 1s, not ${text}`);
  return ms;
}

/** `--cluster-dns`, or the 10th address of the service range (k3s' 10.43.0.10); it must lie in that range. */
function clusterDnsAddress(flag: string | undefined, serviceCidr: string): string {
  if (flag === undefined) return indexedIP(serviceCidr, 10);
  if (!isIPv4(flag)) throw new Error(`--cluster-dns must be an IPv4 address, not ${flag}`);
  const range = tryParseCidr(serviceCidr);
  const n = ipToNumber(flag);
  if (typeof range === "string" || n === undefined || !cidrContainsIp(range, n)) throw new Error(`--cluster-dns ${flag} is not inside --service-cidr ${serviceCidr}`);
  return flag;
}

function parsePort(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${flag} must be a port number from 0 (any free port) to 65535, not ${text}`);
  return n;
}

/** Registers `skiff server` on the program. */
export function registerServer(program: Command): void {
  const cmd = program.command("server");
  addHpaOptions(cmd)
    .description("Run a skiff server: the cluster store and the Kubernetes API server")
    .option("--data-dir <dir>", "state directory (store, snapshots, certificates)", defaultDataDir())
    .option("--cluster-init", "run an embedded etcd member (TLS from the cluster's etcd CA, data in <data-dir>/db/etcd) as the datastore; later starts keep using it")
    .option("--cluster-reset", "when etcd's quorum is gone for good: make this server's member a cluster of one (from its data, or --cluster-reset-restore-path), then exit")
    .option("--cluster-reset-restore-path <file>", "with --cluster-reset: an etcd snapshot (file or name in <data-dir>/db/snapshots) to rebuild the member from")
    .option("--server <url>", "join the cluster of this running server (https://HOST:6443) as another server: its etcd, its keys")
    .option("--token <token>", "with --server: the cluster's server token (the first server's <data-dir>/token)")
    .option("--etcd-client-port <port>", "the embedded etcd's client port (0: any free port, kept for later starts)", "2379")
    .option("--etcd-peer-port <port>", "the embedded etcd's peer port (0: any free port, kept for later starts)", "2380")
    .option("--advertise-address <ip>", "the address other servers reach this one (and its etcd member) on (default: --bind-address, or this host's first external IPv4)")
    .option("--datastore-endpoint <url>", "sqlite://PATH (default <data-dir>/db/state.db), etcd://HOST:PORT[,…] or https://HOST:PORT[,…]")
    .option("--datastore-cafile <file>", "CA bundle to verify an external etcd")
    .option("--datastore-certfile <file>", "client certificate for an external etcd")
    .option("--datastore-keyfile <file>", "client key for an external etcd")
    .option("--snapshot-schedule <cron>", "when to save scheduled snapshots (5 cron fields)", "0 */12 * * *")
    .option("--snapshot-retention <n>", "scheduled snapshots to keep", "5")
    .option("--disable-snapshots", "do not save scheduled snapshots")
    .option("--compaction-interval <duration>", "history kept for watchers to resume; older revisions are compacted", "5m")
    .option("--node-name <name>", "this machine's node name (default: host name)")
    .option("--https-port <port>", "API server port (0: any free port)", "6443")
    .option("--bind-address <address>", "address the API server listens on", "0.0.0.0")
    .option("--cluster-name <name>", "name of the cluster, context and user in kubeconfigs", "skiff")
    .option("--no-kubeconfig-merge", "do not merge the admin context into ~/.kube/config")
    .option("--tls-san <name...>", "more names or addresses for the serving certificate")
    .option("--service-cidr <cidr>", "IPv4 range Service ClusterIPs come from", "10.43.0.0/16")
    .option("--cluster-cidr <cidr>", "IPv4 range pod IPs come from; each node gets a /24 of it", "10.42.0.0/16")
    .option("--disable-agent", "do not run a node (kubelet and containers) on this server")
    .option("--node-ip <ip>", "this node's InternalIP (default: the host's first external IPv4)")
    .option("--kubelet-config <file>", "KubeletConfiguration (kubelet.config.k8s.io/v1beta1) for this server's node")
    .option("--kubelet-port <port>", "port of this node's kubelet API; 0 picks a free port")
    .option("--private-registry <file>", "registries.yaml (k3s format: mirrors, credentials, TLS) for image pulls")
    .option("--disable <component...>", `components not to run (${DISABLEABLE.join(", ")}; k3s' coredns and traefik name dns and ingress)`)
    .option("--disable-kube-proxy", "do not run the service proxy on this server's node")
    .option("--proxy-mode <mode>", "which rules the service proxy writes: nftables or iptables (default: nftables, iptables where nftables does not work)", proxyModeOption)
    .option("--disable-network-policy", "do not enforce NetworkPolicies on this server's node")
    .option("--cluster-dns <ip>", "the cluster DNS Service's IP, what pods resolve with (default: the 10th address of --service-cidr, 10.43.0.10)")
    .option("--cluster-domain <domain>", "the cluster's DNS domain", "cluster.local")
    .option("--cluster-dns-port <port>", "port the cluster DNS answers on at the node's address (the kube-dns Service forwards port 53 there; 0: any free port)", "53")
    .option("--resolv-conf <file>", "resolv.conf whose nameservers answer names outside the cluster", "/etc/resolv.conf")
    .option("--ingress-http-port <port>", "port the ingress controller serves HTTP on (0: any free port)", "80")
    .option("--ingress-https-port <port>", "port the ingress controller serves HTTPS on (0: any free port)", "443")
    .option("--registry-port <port>", "port the cluster image registry serves on (HTTPS with the cluster CA; 0: any free port)", "5000")
    .option("--registry-dir <dir>", "where the registry keeps its blobs and manifests (default <data-dir>/registry)")
    .option("--registry-anonymous-pull <glob...>", "repositories anyone may pull without logging in (* within a path part, ** across)")
    .option("--encryption-provider-config <file>", "EncryptionConfiguration (apiserver.config.k8s.io/v1) for encryption at rest (default <data-dir>/tls/encryption-config.yaml, made at first start)")
    .option("--token-auth-file <file>", "bearer tokens as CSV lines token,user,uid[,\"group1,group2\"] (as kube-apiserver's flag)")
    .option("--disable-admission-plugins <names>", "comma-separated admission plugins to turn off (as kube-apiserver's flag), e.g. ServiceAccount")
    .option("--service-account-issuer <url...>", "issuer (iss) of ServiceAccount tokens; the first signs, all are accepted (default https://kubernetes.default.svc.cluster.local)")
    .option("--api-audiences <list>", "comma-separated audiences the API server accepts in tokens (default: the service account issuers)")
    .option("--service-account-max-token-expiration <duration>", "longest lifetime a TokenRequest may ask for (e.g. 48h; default: no limit)")
    .option("--service-account-extend-token-expiration <bool>", "extend pod-bound projected tokens to a year, warning after their requested lifetime", (v: string) => {
      if (v !== "true" && v !== "false") throw new Error(`--service-account-extend-token-expiration must be true or false, not ${v}`);
      return v === "true";
    })
    .option("--service-account-jwks-uri <uri>", "jwks_uri in the issuer discovery document (default https://<advertise address>:<port>/openid/v1/jwks)")
    .option("--node-monitor-grace-period <duration>", "how long a node may stop posting status before it is marked Unknown and tainted", "50s")
    .option("--metric-resolution <duration>", "how often kubelets' stats are scraped for metrics.k8s.io (kubectl top)", "15s")
    .option("--scheduler-config <file>", "KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) for the scheduler's profiles")
    .action(async (flags: ServerFlags) => {
      const log = consoleLogger();
      if (flags.clusterReset || flags.clusterResetRestorePath) {
        if (!flags.clusterReset) throw new Error("--cluster-reset-restore-path needs --cluster-reset");
        const release = claimDataDir(flags.dataDir);
        try {
          const next = await resetEtcdCluster(flags, {
            nodeName: flags.nodeName ?? defaultNodeName(),
            advertiseAddress: flags.advertiseAddress ?? advertiseAddress(flags.bindAddress),
            ...(flags.clusterResetRestorePath ? { restorePath: flags.clusterResetRestorePath } : {}),
            logger: log,
          });
          log.info(next);
        } finally {
          release();
        }
        return;
      }
      const ac = new AbortController();
      log.info("starting skiff server", { dataDir: flags.dataDir, pid: process.pid });
      const starting = startServer(flags, log, ac.signal);
      const shutdown = async (sig: string) => {
        log.info("shutting down", { signal: sig });
        ac.abort();
        // Wait for a start in progress to settle, so its lock is released either way.
        const server = await starting.catch(() => undefined);
        await server?.stop();
        process.exit(0);
      };
      process.once("SIGINT", () => void shutdown("SIGINT"));
      process.once("SIGTERM", () => void shutdown("SIGTERM"));
      try {
        await starting;
      } catch (err) {
        if (ac.signal.aborted) return;
        throw err;
      }
      // Keep running until a signal arrives.
      setInterval(() => {}, 1 << 30);
    });
}
