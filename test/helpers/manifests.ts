/** The manifests in deploy/, as the tests read them: every document of a file, and the RBAC rules of a kind. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export interface ManifestDoc {
  kind: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  rules?: PolicyRule[];
  [field: string]: unknown;
}

/** `deploy/<file>`'s documents, as plain objects. */
export function deployManifest(file: string): ManifestDoc[] {
  const path = fileURLToPath(new URL(`../../../deploy/${file}`, import.meta.url));
  return parseAllDocuments(readFileSync(path, 'utf8'))
    .map((d) => d.toJSON() as ManifestDoc | null)
    .filter((d): d is ManifestDoc => d !== null);
}

/** Every rule of every object of `kind` (ClusterRole, Role) in `docs`. */
export const rulesOf = (docs: readonly ManifestDoc[], kind: string): PolicyRule[] => docs.filter((d) => d.kind === kind).flatMap((d) => d.rules ?? []);
