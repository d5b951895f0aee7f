/**
 * Terminal resize events: a stream of JSON objects `{"Width":W,"Height":H}`
 * (remotecommand.TerminalSize), read as Go's json.Decoder reads them —
 * objects back to back, whitespace allowed between them, split anywhere
 * across frames or messages, field names matched case-insensitively.
 */
import type { Readable } from "node:stream";

export interface TerminalSize {
  readonly width: number;
  readonly height: number;
}

/** Longest pending object accepted; a resize message is a few dozen bytes. */
const MAX_PENDING = 64 * 1024;

/** Splits a byte stream into TerminalSize objects. */
export class TerminalSizeDecoder {
  private pending = "";

  /**
   * Feeds bytes; returns the sizes completed by them.
   * @throws Error on malformed input (the decoder is then unusable, as Go's).
   */
  push(chunk: Buffer | string): TerminalSize[] {
    this.pending += typeof chunk === "string" ? chunk : chunk.toString("utf8");
    const out: TerminalSize[] = [];
    let depth = 0;
    let inString = false;
    let escaped = false;
    let start = -1;
    let consumed = 0;
    for (let i = 0; i < this.pending.length; i++) {
      const c = this.pending[i]!;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === "\\") escaped = true;
        else if (c === '"') inString = false;
        continue;
      }
      if (depth === 0) {
        if (/\s/.test(c)) {
          consumed = i + 1;
          continue;
        }
        if (c !== "{") throw new Error(`invalid character '${c}' looking for beginning of value`);
        start = i;
      }
      if (c === '"') inString = true;
      else if (c === "{" || c === "[") depth++;
      else if (c === "}" || c === "]") {
        depth--;
        if (depth === 0) {
          out.push(toSize(JSON.parse(this.pending.slice(start, i + 1))));
          consumed = i + 1;
        }
      }
    }
    this.pending = this.pending.slice(consumed);
    if (this.pending.length > MAX_PENDING) throw new Error("terminal size message too large");
    return out;
  }
}

function toSize(v: unknown): TerminalSize {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("terminal size is not an object");
  let width = 0;
  let height = 0;
  for (const [k, val] of Object.entries(v)) {
    const key = k.toLowerCase();
    if (key !== "width" && key !== "height") continue;
    if (typeof val !== "number" || !Number.isInteger(val) || val < 0 || val > 65535) {
      throw new Error(`json: cannot unmarshal ${JSON.stringify(val)} into Go struct field TerminalSize.${key === "width" ? "Width" : "Height"} of type uint16`);
    }
    if (key === "width") width = val;
    else height = val;
  }
  return { width, height };
}

/**
 * Reads resize events from `stream` and calls `onResize` for each size with
 * both dimensions set (kubecontainer.HandleResizing skips zero sizes). Stops
 * at the first malformed object, as upstream does, reporting it to `onError`.
 */
export function readResizes(stream: Readable, onResize: (size: TerminalSize) => void, onError: (err: Error) => void): void {
  const decoder = new TerminalSizeDecoder();
  let broken = false;
  stream.on("data", (chunk: Buffer) => {
    if (broken) return;
    try {
      for (const size of decoder.push(chunk)) {
        if (size.width >= 1 && size.height >= 1) onResize(size);
      }
    } catch (err) {
      broken = true;
      onError(err as Error);
    }
  });
}
