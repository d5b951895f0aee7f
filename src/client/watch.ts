/**
 * The watch wire format: newline-delimited JSON `{"type":…,"object":…}`
 * events. Decoding buffers chunks, splits on `\n` (an event may span any
 * number of chunks) and parses each line once. An ERROR event carrying 410
 * becomes a {@link WatchExpiredError}, the one signal informers relist on.
 */
import { StringDecoder } from "node:string_decoder";
import { type Status, StatusError } from "../machinery/status-error.js";

/** Event types of a watch stream, as upstream. */
export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

/**
 * One watch event. BOOKMARK objects carry only `kind`, `apiVersion` and
 * `metadata.resourceVersion`; ERROR objects are Status objects.
 */
export type WatchEvent<T> =
  | { readonly type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK"; readonly object: T }
  | { readonly type: "ERROR"; readonly object: Status };

/**
 * The watch (or list) asked for a resourceVersion the server no longer has
 * (410 Gone/Expired): the caller must list again and watch from the new
 * list's resourceVersion.
 */
export class WatchExpiredError extends StatusError {
  override name = "WatchExpiredError";
}

/** True for a 410 from a watch or list: the resourceVersion is too old. */
export function isExpired(err: unknown): boolean {
  return err instanceof StatusError && err.code === 410;
}

/** Splits a character stream into lines, however the chunks fall. */
export class LineSplitter {
  private rest = "";

  /** Feeds one chunk; returns the complete lines it finished (without `\n`, `\r` trimmed). */
  push(chunk: string): string[] {
    const text = this.rest.length > 0 ? this.rest + chunk : chunk;
    const lines: string[] = [];
    let start = 0;
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      if (end > start) lines.push(text.slice(start, end));
      start = nl + 1;
    }
    this.rest = start === 0 ? text : text.slice(start);
    return lines;
  }

  /** What is left after the stream ended: a last line without `\n`, if any. */
  end(): string | undefined {
    const last = this.rest.trim();
    this.rest = "";
    return last.length > 0 ? last : undefined;
  }
}

/** Parses one watch line; a 410 ERROR throws {@link WatchExpiredError}. */
export function parseWatchLine<T>(line: string): WatchEvent<T> {
  const ev = JSON.parse(line) as WatchEvent<T>;
  if (!ev || typeof ev !== "object" || typeof ev.type !== "string") throw new Error(`malformed watch event: ${line.slice(0, 200)}`);
  if (ev.type === "ERROR" && ev.object?.code === 410) throw new WatchExpiredError(ev.object);
  return ev;
}

/**
 * Decodes a watch stream (a response, or any iterable of text or byte
 * chunks; a character split across byte chunks is reassembled) into events. Ends when the stream ends; throws
 * {@link WatchExpiredError} on a 410 ERROR event and SyntaxError on a
 * malformed line.
 */
export async function* decodeWatchStream<T>(source: AsyncIterable<string | Buffer>): AsyncGenerator<WatchEvent<T>> {
  const lines = new LineSplitter();
  const utf8 = new StringDecoder("utf8");
  for await (const chunk of source) {
    for (const line of lines.push(typeof chunk === "string" ? chunk : utf8.write(chunk))) yield parseWatchLine<T>(line);
  }
  for (const line of lines.push(utf8.end())) yield parseWatchLine<T>(line);
  const last = lines.end();
  if (last !== undefined) yield parseWatchLine<T>(last);
}
