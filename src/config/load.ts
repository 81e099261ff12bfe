/**
 * Reads the configuration from a YAML file, the environment and command-line overrides (in rising
 * precedence), validates every value once and returns a typed, frozen `TetherConfig`. Every problem is
 * collected and reported together, each naming the key, where the value came from and what was expected.
 */
import { readFileSync } from 'node:fs';
import { isMap, isScalar, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { CONFIG_KEYS, envVarFor, InvalidValue, OWNED_ENV_PREFIXES, SCHEMA, type ConfigKey, type KeySpec, type TetherConfig } from './schema.js';
import { closestEnvVar } from './unknownEnv.js';

export interface ConfigProblem {
  readonly key: string;
  /** e.g. `file tether.yaml:12`, `env DD_ADMISSION_CONTROLLER_PORT`, `flag --mode`. */
  readonly source: string;
  readonly message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(
      `invalid configuration:\n` + problems.map((p) => `  ${p.key} (from ${p.source}): ${p.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

export interface ConfigInput {
  /** The YAML file's path (for messages) and text. */
  readonly file?: { readonly path: string; readonly text: string };
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Values set by command-line flags: key → [raw value, flag name]. */
  readonly overrides?: Partial<Record<ConfigKey, readonly [value: unknown, flag: string]>>;
}

interface RawValue {
  readonly value: unknown;
  readonly source: string;
  readonly fromEnv: boolean;
}

/** Pure: sources in, validated configuration out (or a `ConfigError` listing every problem). */
export function parseConfig(input: ConfigInput): TetherConfig {
  const problems: ConfigProblem[] = [];
  const raw = new Map<ConfigKey, RawValue>();

  if (input.file) {
    for (const [key, entry] of readYamlKeys(input.file.path, input.file.text, problems)) raw.set(key, entry);
  }

  const env = input.env ?? {};
  const envToKey = new Map<string, ConfigKey>(CONFIG_KEYS.map((k) => [envVarFor(k), k]));
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    const key = envToKey.get(name);
    if (key) raw.set(key, { value, source: `env ${name}`, fromEnv: true });
    else if (OWNED_ENV_PREFIXES.some((p) => name.startsWith(p))) {
      const closest = closestEnvVar(name);
      problems.push({ key: name, source: `env ${name}`, message: `unknown setting (${closest ? `did you mean ${closest}?` : 'check the spelling against the documented keys'})` });
    }
  }

  for (const [key, entry] of Object.entries(input.overrides ?? {}) as [ConfigKey, readonly [unknown, string]][]) {
    if (entry === undefined || entry[0] === undefined) continue;
    raw.set(key, { value: entry[0], source: `flag ${entry[1]}`, fromEnv: typeof entry[0] === 'string' });
  }

  const out: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const spec: KeySpec<unknown> = SCHEMA[key];
    const r = raw.get(key);
    if (r === undefined) {
      out[key] = spec.default;
      continue;
    }
    try {
      out[key] = spec.parse(r.value, r.fromEnv);
    } catch (e) {
      if (!(e instanceof InvalidValue)) throw e;
      const shown = spec.secret ? '' : ` got ${describe(r.value)}`;
      problems.push({ key, source: r.source, message: e.message || `expected ${spec.expected};${shown}` });
    }
  }
  crossChecks(out as TetherConfig, raw, problems);

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(out) as TetherConfig;
}

/** Reads `--config FILE` (if any) and `process.env`. */
export function loadConfig(opts: { configPath?: string; env?: Record<string, string | undefined>; overrides?: ConfigInput['overrides'] } = {}): TetherConfig {
  let file: ConfigInput['file'];
  if (opts.configPath !== undefined) {
    let text: string;
    try {
      text = readFileSync(opts.configPath, 'utf8');
    } catch (e) {
      throw new ConfigError([{ key: '(file)', source: `file ${opts.configPath}`, message: `cannot read: ${(e as Error).message}` }]);
    }
    file = { path: opts.configPath, text };
  }
  return parseConfig({ file, env: opts.env ?? process.env, overrides: opts.overrides });
}

/** Rules that involve two keys. */
function crossChecks(cfg: TetherConfig, raw: Map<ConfigKey, RawValue>, problems: ConfigProblem[]): void {
  const validity = 'admission_controller.certificate.validity_bound';
  const threshold = 'admission_controller.certificate.expiration_threshold';
  if (cfg[threshold] >= cfg[validity]) {
    problems.push({
      key: threshold,
      source: raw.get(threshold)?.source ?? raw.get(validity)?.source ?? 'default',
      message: `must be less than ${validity} (${cfg[validity]}h), or every certificate would be renewed at once`,
    });
  }
}

/**
 * Flattens a YAML document into dotted keys, guided by the schema: nested maps and dotted keys both work
 * (`admission_controller: {port: 8000}` or `admission_controller.port: 8000`); a key the schema does not
 * know is a problem naming its line.
 */
function readYamlKeys(path: string, text: string, problems: ConfigProblem[]): Map<ConfigKey, RawValue> {
  const found = new Map<ConfigKey, RawValue>();
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const at = (node: YamlNode | null | undefined): string => {
    const offset = node?.range?.[0];
    return offset === undefined ? `file ${path}` : `file ${path}:${lines.linePos(offset).line}`;
  };
  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      const line = lines.linePos(err.pos[0]).line;
      problems.push({ key: '(file)', source: `file ${path}${line ? `:${line}` : ''}`, message: `not valid YAML: ${err.message.split('\n')[0]}` });
    }
    return found;
  }
  const known = new Set<string>(CONFIG_KEYS);
  const isPrefix = (p: string) => CONFIG_KEYS.some((k) => k.startsWith(p + '.'));

  const walk = (node: unknown, prefix: string): void => {
    if (!isMap(node)) {
      problems.push({ key: prefix || '(file)', source: at(node as YamlNode), message: 'expected a mapping of settings' });
      return;
    }
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode;
      const name = isScalar(keyNode) ? String(keyNode.value) : undefined;
      if (name === undefined) {
        problems.push({ key: prefix || '(file)', source: at(keyNode), message: 'setting names must be plain strings' });
        continue;
      }
      const full = prefix ? `${prefix}.${name}` : name;
      if (known.has(full)) {
        const valueNode = pair.value as YamlNode | null;
        const value = valueNode && 'toJSON' in valueNode ? valueNode.toJSON() : null;
        found.set(full as ConfigKey, { value, source: at(valueNode ?? keyNode), fromEnv: false });
      } else if (isPrefix(full)) {
        walk(pair.value, full);
      } else {
        problems.push({ key: full, source: at(keyNode), message: 'unknown setting (check the spelling against the documented keys)' });
      }
    }
  };
  if (doc.contents !== null) walk(doc.contents, '');
  return found;
}

function describe(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + '...' : s;
}
