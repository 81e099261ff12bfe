/** Applies a JSON Patch with fast-json-patch, an implementation independent of Tether's, validating every operation. */
import fjp from 'fast-json-patch';
import type { JsonPatchOp } from '../../src/admission/jsonpatch.js';

export function applyWithOracle<T>(doc: T, patch: readonly JsonPatchOp[]): T {
  return fjp.applyPatch(structuredClone(doc), fjp.deepClone(patch) as fjp.Operation[], true, false).newDocument;
}
