/**
 * The ceiling for `npm run bench:api`: a bare node:https server with the same
 * TLS setup as the API server (serving certificate, client certificates
 * requested and checked against the client CA), answering every request with
 * a tiny JSON body (201 for POST, after reading the request body).
 *
 *   node --import tsx bench/support/bare-server.ts KEY_FILE CERT_FILE CLIENT_CA_FILE
 *
 * Logs `bare server listening port=N` on standard error; stops on SIGTERM.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";

const [keyFile, certFile, caFile] = process.argv.slice(2);
if (!keyFile || !certFile || !caFile) {
  process.stderr.write("usage: bare-server.ts KEY_FILE CERT_FILE CLIENT_CA_FILE\n");
  process.exit(2);
}

const OK = JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 200 });
const CREATED = JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 });
const DENIED = JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", code: 401 });

const server = createServer(
  { key: readFileSync(keyFile), cert: readFileSync(certFile), ca: readFileSync(caFile), requestCert: true, rejectUnauthorized: false },
  (req, res) => {
    const reply = () => {
      const authorized = (req.socket as TLSSocket).authorized;
      const [code, body] = !authorized ? [401, DENIED] : req.method === "POST" ? [201, CREATED] : [200, OK];
      res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.method === "GET" || req.method === "HEAD") return reply();
    req.on("data", () => {});
    req.on("end", reply);
  },
);
server.keepAliveTimeout = 65_000;
server.listen(0, "127.0.0.1", () => {
  process.stderr.write(`bare server listening port=${(server.address() as AddressInfo).port} pid=${process.pid}\n`);
});
process.once("SIGTERM", () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
