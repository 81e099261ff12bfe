/**
 * `DD_*` variables that nobody reads. Tether owns only some `DD_*` names (its keys, `schema.ts`); the
 * rest of the agent stack owns many more (`agentStackEnv.ts`). A variable known to neither is most
 * likely a typo (`DD_LEADER_LEASE_DURATON=5` would otherwise leave the default in force without a
 * word), so each one gets a startup warning naming the closest known variable. Never the value: it
 * could be a secret.
 */
import { AGENT_STACK_ENV_PREFIXES, AGENT_STACK_ENV_VARS, isAgentStackEnvVar } from './agentStackEnv.js';
import { CONFIG_KEYS, envVarFor, OWNED_ENV_PREFIXES } from './schema.js';

const ENV_PREFIX = 'DD_';

const TETHER_ENV_VARS: readonly string[] = CONFIG_KEYS.map(envVarFor);
const TETHER_ENV_SET = new Set(TETHER_ENV_VARS);

/**
 * One warning per `DD_*` variable of `env` that is neither a Tether key nor known to the agent stack,
 * sorted by name. Variables under a prefix Tether owns are left out: `parseConfig` already rejects them.
 */
export function unknownEnvWarnings(env: Readonly<Record<string, string | undefined>>): string[] {
  const unknown = Object.keys(env)
    .filter((name) => env[name] !== undefined && name.startsWith(ENV_PREFIX))
    .filter((name) => !TETHER_ENV_SET.has(name) && !isAgentStackEnvVar(name) && !OWNED_ENV_PREFIXES.some((p) => name.startsWith(p)))
    .sort();
  return unknown.map((name) => {
    const closest = closestEnvVar(name);
    const hint = closest ? `did you mean ${closest}?` : 'check its spelling';
    return `environment variable ${name} is neither a Tether setting nor one the agent stack is known to read; Tether ignores it: ${hint}`;
  });
}

/**
 * The known variable nearest to `name` by edit distance (a transposition counts as one edit), when it is
 * near enough to be a plausible typo: one edit per four characters after `DD_`, at least one, at most
 * three. Tether's own keys win ties. A family of the stack (`DD_TRACE_...`) is matched with `name`'s own
 * ending (`DD_TRCE_SAMPLE_RATE` → `DD_TRACE_SAMPLE_RATE`), the edits then all in the family's prefix
 * and held to its length, so that a long name is not "near" a family it only shares an ending with.
 */
export function closestEnvVar(name: string): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of candidates(name)) {
    if (candidate.name === name) continue;
    const distance = editDistance(name, candidate.name, candidate.limit);
    if (distance <= candidate.limit && (best === undefined || distance < best.distance)) best = { name: candidate.name, distance };
  }
  return best?.name;
}

/** Edits allowed in `s` for it to count as a typo: one per four characters after `DD_`, 1 to 3. */
function typoLimit(s: string): number {
  const body = s.startsWith(ENV_PREFIX) ? s.length - ENV_PREFIX.length : s.length;
  return Math.min(3, Math.max(1, Math.floor(body / 4)));
}

/** Tether's variables first (they win ties), then the stack's names, then family members with `name`'s ending. */
function* candidates(name: string): Generator<{ name: string; limit: number }> {
  const limit = typoLimit(name);
  for (const known of TETHER_ENV_VARS) yield { name: known, limit };
  for (const known of AGENT_STACK_ENV_VARS) yield { name: known, limit };
  for (const prefix of AGENT_STACK_ENV_PREFIXES) {
    const prefixLimit = Math.min(limit, typoLimit(prefix));
    // Where the family prefix would end in `name` if the typo is in the prefix: up to two characters either way.
    for (let end = prefix.length - 2; end <= prefix.length + 2; end++) {
      if (end > 0 && end < name.length) yield { name: prefix + name.slice(end), limit: prefixLimit };
    }
  }
}

/**
 * Optimal string alignment distance (Levenshtein plus adjacent transpositions). Stops early and returns
 * `limit + 1` once every alignment costs more than `limit`: most candidates are nowhere near.
 */
export function editDistance(a: string, b: string, limit = Infinity): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prevPrev: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prevPrev[j - 2]! + 1);
      row.push(d);
      rowMin = Math.min(rowMin, d);
    }
    if (rowMin > limit) return limit + 1;
    prevPrev = prev;
    prev = row;
  }
  return prev[b.length]!;
}
