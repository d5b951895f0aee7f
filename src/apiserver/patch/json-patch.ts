/** JSON patch (RFC 6902) through fast-json-patch, with upstream-style errors. */
import fjp from "fast-json-patch";
import { badRequest, StatusError } from "../../machinery/status-error.js";

/** Applies `ops` to a copy of `doc`; a malformed or failing patch is a 400, a failed `test` a 422 upstream-like. */
export function applyJsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  const copy = structuredClone(doc);
  try {
    const err = fjp.validate(ops as fjp.Operation[], copy);
    if (err) throw err;
    return fjp.applyPatch(copy, ops as fjp.Operation[], false, true).newDocument;
  } catch (err) {
    if (err instanceof StatusError) throw err;
    const e = err as { name?: string; message?: string; operation?: { op?: string; path?: string } };
    const op = e.operation ? ` (op ${e.operation.op} at ${e.operation.path})` : "";
    if (e.name === "TEST_OPERATION_FAILED") throw new StatusError({ ...badRequest("").status, code: 422, reason: "Invalid", message: `the server rejected our request due to an error in our request: testing value failed${op}` });
    throw badRequest(`the server rejected our request due to an error in our request: ${String(e.message ?? err).split("\n")[0]}${op}`);
  }
}
