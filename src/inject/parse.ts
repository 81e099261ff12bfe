/**
 * Reading manifests the way `kubectl` reads them. One place for the parse options, so the first read,
 * the in-place editor's re-reads and the check of every edited document all read YAML the same way.
 */
import { parseAllDocuments, type Document, type LineCounter } from 'yaml';

/**
 * YAML 1.1, as kubectl reads manifests: a tag value such as `on` or `0777` must come out quoted, or
 * kubectl would read a boolean or a number where Kubernetes wants a string.
 */
export const MANIFEST_YAML_VERSION = '1.1';

/** Aliases a document may expand (a guard against alias bombs, far above what real manifests use). */
const MAX_ALIAS_COUNT = 1000;

/**
 * Every document of a stream (none for an empty stream). Duplicate keys are accepted, because kubectl
 * accepts them (its YAML→JSON conversion keeps the last value); `toValue` keeps the last one too, and
 * `duplicateKeys` names them so the user is told.
 */
export function parseManifests(text: string, lineCounter?: LineCounter): Document.Parsed[] {
  return parseAllDocuments(text, {
    version: MANIFEST_YAML_VERSION,
    uniqueKeys: false,
    prettyErrors: false,
    ...(lineCounter ? { lineCounter } : {}),
  }) as Document.Parsed[];
}

/** The document as plain data, as kubectl would send it (for a duplicated key, the last value). */
export function toValue(doc: Document): unknown {
  return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
}
