/**
 * HTTP for the OpenAPI documents: `/openapi/v2` (JSON or gnostic protobuf),
 * the `/openapi/v3` index and one document per group-version, with ETags and
 * the immutable caching of hashed v3 URLs, as kube-openapi's handlers do.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { CustomOpenAPISpecs } from "../api/openapi/custom-specs.js";
import { negotiateOpenAPIV2, negotiateOpenAPIV3, openapiV3Index, type ServedDocument } from "../api/openapi/documents.js";
import { notAcceptable } from "../machinery/status-error.js";
import { sendError } from "./http/respond.js";
import { GIT_VERSION } from "./version.js";

function serve(req: IncomingMessage, res: ServerResponse, doc: ServedDocument, extra: Record<string, string> = {}): void {
  const headers: Record<string, string> = { "Content-Type": doc.contentType, ETag: doc.etag, Vary: "Accept", ...extra };
  if (req.headers["if-none-match"] === doc.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, "Content-Length": String(doc.body.length) });
  res.end(req.method === "HEAD" ? undefined : doc.body);
}

/** Serves the OpenAPI paths, the served custom resources' (`custom`) included; false for any other path. */
export function openapiRoutes(req: IncomingMessage, res: ServerResponse, url: URL, custom?: CustomOpenAPISpecs): boolean {
  const path = url.pathname.replace(/\/$/, "");
  if (path === "/openapi/v2") {
    const doc = negotiateOpenAPIV2(req.headers.accept, GIT_VERSION, custom);
    if (!doc) {
      sendError(res, notAcceptable("only application/json and the gnostic protobuf encoding of /openapi/v2 are served"));
      return true;
    }
    serve(req, res, doc);
    return true;
  }
  if (path === "/openapi/v3") {
    serve(req, res, openapiV3Index(custom));
    return true;
  }
  if (!path.startsWith("/openapi/v3/")) return false;
  const gv = path.slice("/openapi/v3/".length);
  const doc = negotiateOpenAPIV3(req.headers.accept, gv, custom);
  if (doc === undefined) {
    res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
    res.end("404 page not found\n");
    return true;
  }
  if (doc === "notAcceptable") {
    sendError(res, notAcceptable("only application/json is served for /openapi/v3"));
    return true;
  }
  const hash = url.searchParams.get("hash");
  if (hash && hash !== doc.hash) {
    // A stale hash: send the client to the current document, as upstream.
    res.writeHead(301, { Location: `/openapi/v3/${gv}?hash=${doc.hash}` });
    res.end();
    return true;
  }
  const cache: Record<string, string> = hash
    ? { "Cache-Control": "public, immutable", Expires: new Date(Date.now() + 365 * 86_400_000).toUTCString() }
    : { "Cache-Control": "no-cache, private" };
  serve(req, res, doc, cache);
  return true;
}
