/**
 * The join endpoints a new node uses before it has any credentials, as
 * k3s' supervisor serves them beside the API:
 *
 * - `GET /cacerts`: the cluster's server CA bundle, unauthenticated. The
 *   agent checks it against the hash its join token pins.
 * - `POST /v1-skiff/client-kubelet`: Basic auth with the token's
 *   `user:secret`, header `Skiff-Node-Name`, body the node's P-256 public
 *   key (SPKI PEM). Answers JSON `{certificate, clientCA}`: a client
 *   certificate for `system:node:NAME` in `system:nodes` (what node
 *   authorization keys on) and the client CA, which the kubelet API uses
 *   to verify callers. The node's private key never leaves the node.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { KeyPairPem } from "../../pki/certs.js";
import { issueCertificate } from "../../pki/certs.js";
import type { JoinToken } from "../../pki/join-token.js";
import type { Logger } from "../../machinery/log.js";
import { readBody } from "../http/body.js";
import { NODE_NAME_HEADER } from "./header.js";
import { hasTokenCredentials, sendText } from "./token-auth.js";

/** What the join routes need. */
export interface JoinRoutesOptions {
  /** The bundle `/cacerts` serves (the token's hash is of exactly these bytes). */
  readonly serverCaPem: string;
  /** Signs node client certificates. */
  readonly clientCa: KeyPairPem;
  readonly token: JoinToken;
  readonly logger: Logger;
}

export { NODE_NAME_HEADER } from "./header.js";

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A request handler answering the join routes (true) or leaving the request alone (false). */
export function joinRoutes(opts: JoinRoutesOptions): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> {
  return async (req, res, url) => {
    if (url.pathname === "/cacerts") {
      if (req.method !== "GET" && req.method !== "HEAD") return sendText(res, 405, "method not allowed\n");
      return sendText(res, 200, opts.serverCaPem);
    }
    if (url.pathname !== "/v1-skiff/client-kubelet") return false;
    if (req.method !== "POST") return sendText(res, 405, "method not allowed: POST a public key\n");
    if (!hasTokenCredentials(req, opts.token, ["server", "node"])) {
      return sendText(res, 401, "unauthorized: the join token's secret is not valid for this cluster\n", { "WWW-Authenticate": 'Basic realm="skiff-join"' });
    }
    const name = String(req.headers[NODE_NAME_HEADER] ?? "");
    if (!name || name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
      return sendText(res, 400, `invalid node name ${JSON.stringify(name)}: send a DNS-1123 subdomain in the ${NODE_NAME_HEADER} header\n`);
    }
    let publicKeyPem: string;
    try {
      publicKeyPem = (await readBody(req, 16 * 1024)).toString("utf8");
    } catch (err) {
      return sendText(res, 413, `${(err as Error).message}\n`);
    }
    let certificate: string;
    try {
      const issued = await issueCertificate({
        ca: opts.clientCa,
        commonName: `system:node:${name}`,
        organizations: ["system:nodes"],
        usages: ["client"],
        validDays: 365,
        publicKeyPem,
      });
      certificate = issued.certPem;
    } catch (err) {
      return sendText(res, 400, `cannot certify the public key: ${(err as Error).message}\n`);
    }
    opts.logger.info("issued node client certificate", { node: name, remote: req.socket.remoteAddress });
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ certificate, clientCA: opts.clientCa.certPem }));
    return true;
  };
}
