/**
 * Plain-text answers, as upstream's kubelet writes them (go-restful's
 * WriteErrorString and net/http's Error): the status, the text, and the
 * content type Go's sniffing gives text.
 */
import type { ServerResponse } from "node:http";

/** Writes `text` with `code` (unless the response already started) and ends the response. */
export function writeText(res: ServerResponse, code: number, text: string): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(code, {
    "Content-Type": "text/plain; charset=utf-8",
    "X-Content-Type-Options": "nosniff",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

/** net/http's NotFound body. */
export const NOT_FOUND_TEXT = "404 page not found\n";
