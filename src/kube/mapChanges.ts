/**
 * The one way the narrow stores (kube/secrets.ts, kube/configMaps.ts) change a string map: a value sets
 * its key, `null` removes it, keys not named are left as they are.
 */
export type MapChanges = Readonly<Record<string, string | null>>;

/** `current` with `changes` applied; `encode` turns each value set into what is stored (e.g. base64). */
export function applyMapChanges(current: Readonly<Record<string, string>> | undefined, changes: MapChanges | undefined, encode: (v: string) => string = (v) => v): Record<string, string> {
  const out: Record<string, string> = { ...current };
  for (const [k, v] of Object.entries(changes ?? {})) {
    if (v === null) delete out[k];
    else out[k] = encode(v);
  }
  return out;
}
