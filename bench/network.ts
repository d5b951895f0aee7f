/**
 * `npm run bench:network`: the three figures issue 8 names, each from the
 * component as the cluster runs it. One JSON line:
 *
 *   proxy: time from an EndpointSlice change to its transaction being in the
 *     kernel, p50/p99, with 1,000 Services and 10,000 endpoints loaded
 *     (aim ≤ 200 ms), and the full load's time (bench/support/network-proxy.ts;
 *     the table lives in a throwaway network namespace);
 *   dns: queries/s on loopback from concurrent UDP clients, and p99 latency
 *     (aim ≥ 20,000/s) (bench/support/network-dns.ts);
 *   ingress: requests/s through the ingress controller as a ratio to
 *     requests/s straight to the backend, side by side (aim ≥ 0.7)
 *     (bench/support/network-ingress.ts).
 *
 * Flags: --smoke (small and short, for CI), --parts proxy,dns,ingress.
 * Progress goes to standard error; only the JSON line to standard output.
 */
import { benchDns } from "./support/network-dns.js";
import { benchIngress } from "./support/network-ingress.js";
import { benchProxy } from "./support/network-proxy.js";

const smoke = process.argv.includes("--smoke");
const partsArg = process.argv.indexOf("--parts");
const parts = new Set(partsArg >= 0 ? (process.argv[partsArg + 1] ?? "").split(",") : ["proxy", "dns", "ingress"]);
const out: Record<string, unknown> = { smoke };
if (parts.has("proxy")) {
  if (process.getuid?.() !== 0) {
    out.proxy = "skipped: needs root (nftables in a network namespace)";
  } else {
    console.error("bench:network: service proxy …");
    out.proxy = await benchProxy({ smoke });
  }
}
if (parts.has("dns")) {
  console.error("bench:network: cluster DNS …");
  out.dns = await benchDns({ smoke });
}
if (parts.has("ingress")) {
  console.error("bench:network: ingress …");
  out.ingress = await benchIngress({ smoke });
}
console.log(JSON.stringify(out));
