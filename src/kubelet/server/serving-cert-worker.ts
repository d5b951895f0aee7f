/**
 * The worker-thread side of serving-cert.ts' makeServingCertOffThread:
 * makes one self-signed serving certificate from `workerData` and posts it
 * back; the thread (and the X.509 library it loaded) then goes away.
 */
import { parentPort, workerData } from "node:worker_threads";
import { selfSignedServingCert } from "./serving-cert.js";

const { host, addresses } = workerData as { host: string; addresses: string[] };
parentPort?.postMessage(await selfSignedServingCert(host, addresses));
