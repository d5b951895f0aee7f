/**
 * The `etcd3` client as skiff configures it: no hidden retries, no circuit
 * breaker, gRPC tuned to notice a restarted etcd quickly, TLS from files;
 * and ending its streams quietly.
 */
import { readFileSync } from "node:fs";
import { Etcd3, type IOptions } from "etcd3";
import { StoreOpenError } from "../../errors.js";
import { errorMessage } from "./etcd-errors.js";

/** Client TLS material, as file paths. */
export interface EtcdTlsOptions {
  /** CA bundle to verify etcd's certificate; the system roots when absent. */
  readonly ca?: string;
  /** Client certificate (with `key`) for etcd's `--client-cert-auth`. */
  readonly cert?: string;
  readonly key?: string;
}

type FaultPolicy = NonNullable<NonNullable<IOptions["faultHandling"]>["global"]>;

/**
 * etcd3's default policies retry failed calls and open a circuit breaker for
 * 5 s after three failures. Retrying a txn whose answer was lost can apply it
 * twice, and the breaker would keep failing calls after etcd is back, so
 * calls go straight through and callers see each failure once.
 */
function passthroughPolicy(): FaultPolicy {
  const noEvent = () => ({ dispose() {} });
  const signal = new AbortController().signal;
  const policy = {
    onSuccess: noEvent,
    onFailure: noEvent,
    execute: <T>(fn: (ctx: { signal: AbortSignal }) => PromiseLike<T> | T): Promise<T> =>
      Promise.resolve().then(() => fn({ signal })),
  };
  return policy as unknown as FaultPolicy;
}

function readTls(tls: EtcdTlsOptions): NonNullable<IOptions["credentials"]> {
  const read = (what: string, path?: string): Buffer | undefined => {
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new StoreOpenError(`cannot read etcd TLS ${what} ${path}: ${errorMessage(err)}`);
    }
  };
  return {
    // gRPC falls back to the system roots when no CA is given.
    rootCertificate: read("CA", tls.ca) as Buffer,
    privateKey: read("key", tls.key),
    certChain: read("certificate", tls.cert),
  };
}

/**
 * A client for `endpoints` that contacts etcd only when first used; its
 * calls require a leader unless `requireLeader` is false. Fails with
 * {@link StoreOpenError} when a TLS file cannot be read.
 */
export function createEtcdClient(endpoints: readonly string[], tls?: EtcdTlsOptions, opts: { readonly requireLeader?: boolean } = {}): Etcd3 {
  const policy = passthroughPolicy();
  const client = new Etcd3({
    hosts: [...endpoints],
    credentials: tls ? readTls(tls) : undefined,
    faultHandling: { host: () => policy, global: policy },
    grpcOptions: {
      // Watch responses and large lists can exceed gRPC's 4 MiB default.
      "grpc.max_receive_message_length": -1,
      "grpc.max_send_message_length": -1,
      // Notice a restarted etcd within seconds rather than gRPC's minutes.
      "grpc.initial_reconnect_backoff_ms": 250,
      "grpc.max_reconnect_backoff_ms": 2000,
      // Detect a silently dead connection; etcd allows pings every 5 s.
      "grpc.keepalive_time_ms": 30_000,
      "grpc.keepalive_timeout_ms": 10_000,
    },
  });
  // Diagnostics (skiff doctor) must still reach a member that lost its leader, to say so.
  if (opts.requireLeader !== false) requireLeader(client);
  return client;
}

interface GrpcMetadata {
  clone(): GrpcMetadata;
  set(key: string, value: string): void;
}

/**
 * Every call carries etcd's `hasleader` metadata (clientv3's
 * WithRequireLeader, which kube-apiserver puts on its watches), so a member
 * that has lost its leader refuses at once with "etcdserver: no leader"
 * instead of holding the request until its deadline: without quorum, writes
 * fail fast and watches end so clients notice. etcd3 builds each call's
 * metadata in its connection pool's authenticator and has no option for
 * extra keys, hence the wrapper around that one method.
 */
function requireLeader(client: Etcd3): void {
  const auth = (client as unknown as { pool?: { authenticator?: { getMetadata?: () => Promise<GrpcMetadata> } } }).pool?.authenticator;
  const original = auth?.getMetadata?.bind(auth);
  if (!auth || !original) throw new Error("etcd3's connection pool has changed shape: cannot require a leader on etcd calls");
  auth.getMetadata = async () => {
    const metadata = (await original()).clone();
    metadata.set("hasleader", "true");
    return metadata;
  };
}

/**
 * Ends a gRPC stream without tripping etcd3's failure handler: half-closing
 * first marks it unwritable, so the CANCELLED error from `cancel()` (etcd
 * keeps a half-closed watch open) is not mistaken for a broken connection.
 */
export function endStream(stream: { end(): void; cancel(): void; on(e: "error", fn: (err: Error) => void): unknown }): void {
  stream.on("error", () => {});
  try {
    stream.end();
    stream.cancel();
  } catch {
    // Already closed.
  }
}
