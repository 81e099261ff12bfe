/**
 * DogStatsD datagrams → samples (pure, never throws). One datagram holds lines separated by `\n`; each
 * line is a metric, a service check (`_sc|…`) or an event (`_e{…}`):
 *
 *   <name>:<value>[:<value>…]|<type>[|@<rate>][|#<tag>,<tag>…][|c:<container id>][|T<unix seconds>]
 *
 * Types `c` `g` `h` `d` `s` `ms`; several values per line (protocol 1.1, not for sets, whose value is the
 * member itself); `|c:` the container id (1.2; `ci-<id>` names a container id and `in-<inode>` a cgroup
 * inode in later clients); `|T` the client's own timestamp (1.3); `|e:` external data (the pod UID of
 * `DD_EXTERNAL_ENV`'s `pu-`, as the trace side reads it). Fields this parser does not know (`|card:`
 * cardinality, and whatever comes next) are skipped, as the stack's server does, so a newer client is
 * not rejected line by line. The `dd.internal.card:` tag is dropped (not a tag of the metric); `host:`
 * is kept to the exporter, which makes it the series' host (`otlp/metrics.ts`), as the stack's server
 * makes it the metric's hostname.
 *
 * The `dd.internal.entity_id:<uid>` tag (what clients add from `DD_ENTITY_ID`) is taken out of the tags
 * into the origin. Service checks (`_sc|…`) and events (`_e{…}`) are parsed whole, with the same origin
 * fields (`#` tags, `|c:`, `|e:`), and handed to the sink (exported as OTLP log records).
 *
 * Speed matters (the node agent takes every pod's metrics on one core): lines are cut with `indexOf`,
 * never a regular expression, and numbers are checked by a character loop before `Number`.
 */
import { EVENT_ALERT_TYPES, SERVICE_CHECK_STATUSES, type DogStatsDEvent, type DogStatsDMetricType, type DogStatsDSample, type DogStatsDServiceCheck, type EventAlertType, type Origin } from '../types.js';
import { podUidFromExternalEnv } from '../traces/origin.js';

/** Why a line was dropped; the label of the malformed-lines counter. */
export type MalformedReason =
  | 'no-value'
  | 'empty-name'
  | 'no-type'
  | 'unknown-type'
  | 'bad-value'
  | 'bad-sample-rate'
  | 'bad-timestamp'
  | 'bad-service-check'
  | 'bad-event';

export const MALFORMED_REASONS: readonly MalformedReason[] = [
  'no-value',
  'empty-name',
  'no-type',
  'unknown-type',
  'bad-value',
  'bad-sample-rate',
  'bad-timestamp',
  'bad-service-check',
  'bad-event',
];

/** The tag DogStatsD clients add from `DD_ENTITY_ID`. */
export const ENTITY_ID_TAG_PREFIX = 'dd.internal.entity_id:';
/**
 * The tag clients add from `DD_CARDINALITY` / a call's `cardinality` (`low`, `orchestrator`, `high`): which
 * of the origin's tags the stack's agent adds. Never a tag of the metric; Tether adds its pod's tags (the
 * orchestrator level; it has no container-level tags to add for `high`) whatever it says.
 */
export const CARDINALITY_TAG_PREFIX = 'dd.internal.card:';
const CONTAINER_ID_PREFIX = 'ci-';
const CGROUP_INODE_PREFIX = 'in-';

/** Where the parser puts what it found (the listener counts and aggregates without building arrays). */
export interface ParseSink {
  sample(sample: DogStatsDSample): void;
  serviceCheck(check: DogStatsDServiceCheck): void;
  event(event: DogStatsDEvent): void;
  /** `message` says what was wrong, in words; `line` is the offending line (the caller shortens it). */
  malformed(reason: MalformedReason, message: string, line: string): void;
}

export interface ParsedDatagram {
  readonly samples: DogStatsDSample[];
  readonly serviceChecks: number;
  readonly events: number;
  readonly errors: { readonly reason: MalformedReason; readonly message: string; readonly line: string }[];
}

/** The whole result of one datagram, for tests and tools; the listener uses `parseInto`. */
export function parseDatagram(text: string): ParsedDatagram {
  const out: ParsedDatagram = { samples: [], serviceChecks: 0, events: 0, errors: [] };
  let serviceChecks = 0;
  let events = 0;
  parseInto(text, {
    sample: (s) => out.samples.push(s),
    serviceCheck: () => serviceChecks++,
    event: () => events++,
    malformed: (reason, message, line) => out.errors.push({ reason, message, line }),
  });
  return { ...out, serviceChecks, events };
}

const NO_ORIGIN: Origin = Object.freeze({});

/** Every line of `text` into `sink`. */
export function parseInto(text: string, sink: ParseSink): void {
  // Lines of one datagram usually come from one client with one origin: reuse its object.
  let lastOrigin: Origin = NO_ORIGIN;
  let start = 0;
  const end = text.length;
  while (start < end) {
    let nl = text.indexOf('\n', start);
    if (nl === -1) nl = end;
    let lineEnd = nl;
    if (lineEnd > start && text.charCodeAt(lineEnd - 1) === 13 /* \r */) lineEnd--;
    if (lineEnd > start) {
      const line = text.slice(start, lineEnd);
      const c0 = line.charCodeAt(0);
      if (c0 === 95 /* _ */ && line.startsWith('_sc|')) serviceCheckLine(line, sink);
      else if (c0 === 95 && line.startsWith('_e{')) eventLine(line, sink);
      else lastOrigin = metricLine(line, sink, lastOrigin);
    }
    start = nl + 1;
  }
}

/** A decimal number as DogStatsD clients write it: digits, sign, point, exponent; nothing else (no hex, no `Infinity`, no blanks). */
export function parseNumber(s: string, from: number, to: number): number {
  if (from >= to) return Number.NaN;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    // 0-9 . + - e E
    if (!((c >= 48 && c <= 57) || c === 46 || c === 43 || c === 45 || c === 101 || c === 69)) return Number.NaN;
  }
  const n = Number(from === 0 && to === s.length ? s : s.slice(from, to));
  return Number.isFinite(n) ? n : Number.NaN;
}

function typeOf(line: string, from: number, to: number): DogStatsDMetricType | undefined {
  const len = to - from;
  const c = line.charCodeAt(from);
  if (len === 1) {
    switch (c) {
      case 99: return 'count'; // c
      case 103: return 'gauge'; // g
      case 104: return 'histogram'; // h
      case 100: return 'distribution'; // d
      case 115: return 'set'; // s
    }
    return undefined;
  }
  if (len === 2 && c === 109 /* m */ && line.charCodeAt(from + 1) === 115 /* s */) return 'timing';
  return undefined;
}

const quote = (s: string): string => JSON.stringify(s.length > 40 ? s.slice(0, 40) + '…' : s);

function metricLine(line: string, sink: ParseSink, lastOrigin: Origin): Origin {
  const colon = line.indexOf(':');
  const firstPipe = line.indexOf('|');
  if (colon === -1 || (firstPipe !== -1 && firstPipe < colon)) {
    sink.malformed('no-value', 'no ":" between the metric name and its value', line);
    return lastOrigin;
  }
  if (colon === 0) {
    sink.malformed('empty-name', 'the metric name is empty', line);
    return lastOrigin;
  }
  if (firstPipe === -1) {
    sink.malformed('no-type', `metric ${quote(line.slice(0, colon))} has no "|<type>" after its value`, line);
    return lastOrigin;
  }
  const name = line.slice(0, colon);
  let fieldEnd = line.indexOf('|', firstPipe + 1);
  if (fieldEnd === -1) fieldEnd = line.length;
  const type = typeOf(line, firstPipe + 1, fieldEnd);
  if (type === undefined) {
    sink.malformed('unknown-type', `metric ${quote(name)} has type ${quote(line.slice(firstPipe + 1, fieldEnd))}: expected c, g, h, d, s or ms`, line);
    return lastOrigin;
  }

  let sampleRate = 1;
  const of = resetOriginFields();
  let timestampMs: number | undefined;
  // The optional fields, in any order.
  while (fieldEnd < line.length) {
    const from = fieldEnd + 1;
    let to = line.indexOf('|', from);
    if (to === -1) to = line.length;
    fieldEnd = to;
    if (to === from) continue;
    const c = line.charCodeAt(from);
    if (originField(line, from, to, of)) continue;
    if (c === 64 /* @ */) {
      const rate = parseNumber(line, from + 1, to);
      if (!(rate > 0 && rate <= 1)) {
        sink.malformed('bad-sample-rate', `metric ${quote(name)} has sample rate ${quote(line.slice(from + 1, to))}: expected a number above 0 and at most 1`, line);
        return lastOrigin;
      }
      sampleRate = rate;
    } else if (c === 84 /* T */) {
      const ts = parseNumber(line, from + 1, to);
      if (!(Number.isInteger(ts) && ts > 0)) {
        sink.malformed('bad-timestamp', `metric ${quote(name)} has timestamp ${quote(line.slice(from + 1, to))}: expected T and whole Unix seconds`, line);
        return lastOrigin;
      }
      timestampMs = ts * 1000;
    }
    // Anything else: a field of a newer protocol version; skipped.
  }

  const tags = of.tags;
  const origin = originOf(of, lastOrigin);

  if (type === 'set') {
    // A set's value is its member, whatever characters it has (values are not packed for sets).
    if (firstPipe === colon + 1) {
      sink.malformed('bad-value', `set ${quote(name)} has an empty member`, line);
      return origin;
    }
    const member = line.slice(colon + 1, firstPipe);
    const contextKey = line.slice(firstPipe);
    sink.sample(timestampMs === undefined ? { name, type, value: 0, setValue: member, sampleRate, tags, origin, contextKey } : { name, type, value: 0, setValue: member, sampleRate, tags, origin, timestampMs, contextKey });
    return origin;
  }
  const contextKey = line.slice(firstPipe);

  // Values, validated all before any is emitted: a line is taken whole or not at all.
  let from = colon + 1;
  const first = valueEnd(line, from, firstPipe);
  const v0 = parseNumber(line, from, first);
  if (Number.isNaN(v0)) {
    sink.malformed('bad-value', `metric ${quote(name)} has value ${quote(line.slice(from, first))}: expected a decimal number`, line);
    return origin;
  }
  if (first === firstPipe) {
    sink.sample(timestampMs === undefined ? { name, type, value: v0, sampleRate, tags, origin, contextKey } : { name, type, value: v0, sampleRate, tags, origin, timestampMs, contextKey });
    return origin;
  }
  const values = [v0];
  from = first + 1;
  while (from <= firstPipe) {
    const to = valueEnd(line, from, firstPipe);
    const v = parseNumber(line, from, to);
    if (Number.isNaN(v)) {
      sink.malformed('bad-value', `metric ${quote(name)} has value ${quote(line.slice(from, to))}: expected a decimal number`, line);
      return origin;
    }
    values.push(v);
    from = to + 1;
  }
  for (const value of values) {
    sink.sample(timestampMs === undefined ? { name, type, value, sampleRate, tags, origin, contextKey } : { name, type, value, sampleRate, tags, origin, timestampMs, contextKey });
  }
  return origin;
}

const EMPTY_TAGS: string[] = [];
Object.freeze(EMPTY_TAGS);

function valueEnd(line: string, from: number, limit: number): number {
  const c = line.indexOf(':', from);
  return c === -1 || c > limit ? limit : c;
}

/**
 * The fields any line may carry that say where it came from, gathered as they come: `#` tags (with the
 * entity id tag taken out and the cardinality tag dropped), `|c:` the container id, `|e:` external data.
 * One object reused line after line (the parser is not re-entrant, and allocates nothing here per line).
 */
interface OriginFields {
  tags: string[];
  entityId: string | undefined;
  containerId: string | undefined;
  externalUid: string | undefined;
}
const fields: OriginFields = { tags: EMPTY_TAGS, entityId: undefined, containerId: undefined, externalUid: undefined };

function resetOriginFields(): OriginFields {
  fields.tags = EMPTY_TAGS;
  fields.entityId = fields.containerId = fields.externalUid = undefined;
  return fields;
}

/** Reads the field `line[from, to)` into `f` when it is an origin field; false when it is another. */
function originField(line: string, from: number, to: number, f: OriginFields): boolean {
  const c = line.charCodeAt(from);
  if (c === 35 /* # */) {
    if (to > from + 1) {
      const raw = line.slice(from + 1, to).split(',');
      f.tags = [];
      for (const tag of raw) {
        if (tag === '') continue;
        if (tag.startsWith(ENTITY_ID_TAG_PREFIX)) {
          const id = tag.slice(ENTITY_ID_TAG_PREFIX.length);
          if (id !== '') f.entityId = id;
        } else if (!tag.startsWith(CARDINALITY_TAG_PREFIX)) f.tags.push(tag);
      }
    }
    return true;
  }
  if (line.charCodeAt(from + 1) !== 58 /* : */) return false;
  if (c === 99 /* c */) {
    const id = line.slice(from + 2, to);
    if (id.startsWith(CONTAINER_ID_PREFIX)) f.containerId = id.slice(CONTAINER_ID_PREFIX.length) || undefined;
    // A cgroup inode names no container by itself (resolving it needs the host's cgroup tree): not an id.
    else if (!id.startsWith(CGROUP_INODE_PREFIX) && id !== '') f.containerId = id;
    return true;
  }
  if (c === 101 /* e */) {
    // External data (`DD_EXTERNAL_ENV`, which the webhook injects: `it-false,cn-<container>,pu-<pod uid>`),
    // as the trace side reads `Datadog-External-Env`; the entity id tag, when sent, is more specific.
    f.externalUid = podUidFromExternalEnv(line.slice(from + 2, to));
    return true;
  }
  return false;
}

/** The origin the fields name: `last` itself when it is the same (lines of one client share one object). */
function originOf(f: OriginFields, last: Origin): Origin {
  const entityId = f.entityId ?? f.externalUid;
  const containerId = f.containerId;
  if (last.entityId === entityId && last.containerId === containerId) return last;
  return entityId === undefined && containerId === undefined ? NO_ORIGIN : { ...(entityId !== undefined ? { entityId } : {}), ...(containerId !== undefined ? { containerId } : {}) };
}

/** `d:<unix seconds>` of a service check or event, in ms; NaN when it is not whole positive seconds. */
function secondsField(line: string, from: number, to: number): number {
  const ts = parseNumber(line, from, to);
  return Number.isInteger(ts) && ts > 0 ? ts * 1000 : Number.NaN;
}

/** Newlines as clients send them in a service check's message or an event's text (`\\n`), restored. */
const unescapeNewlines = (s: string): string => (s.includes('\\n') ? s.replaceAll('\\n', '\n') : s);

/** `_sc|<name>|<status>|d:…|h:…|#…|c:…|e:…|m:<message>`: status 0 (ok) to 3 (unknown); `m:` comes last and runs to the end. */
function serviceCheckLine(line: string, sink: ParseSink): void {
  const nameEnd = line.indexOf('|', 4);
  if (nameEnd === -1 || nameEnd === 4) {
    sink.malformed('bad-service-check', 'service check without "|<name>|<status>"', line);
    return;
  }
  const name = line.slice(4, nameEnd);
  let fieldEnd = line.indexOf('|', nameEnd + 1);
  if (fieldEnd === -1) fieldEnd = line.length;
  const status = line.slice(nameEnd + 1, fieldEnd);
  if (status.length !== 1 || status < '0' || status > '3') {
    sink.malformed('bad-service-check', `service check ${quote(name)} has status ${quote(status)}: expected 0, 1, 2 or 3`, line);
    return;
  }
  const of = resetOriginFields();
  let timestampMs: number | undefined;
  let hostname: string | undefined;
  let message: string | undefined;
  while (fieldEnd < line.length) {
    const from = fieldEnd + 1;
    const c = line.charCodeAt(from);
    if (c === 109 /* m */ && line.charCodeAt(from + 1) === 58 /* : */) {
      message = unescapeNewlines(line.slice(from + 2));
      break;
    }
    let to = line.indexOf('|', from);
    if (to === -1) to = line.length;
    fieldEnd = to;
    if (to === from || originField(line, from, to, of)) continue;
    if (line.charCodeAt(from + 1) !== 58 /* : */) continue;
    if (c === 100 /* d */) {
      timestampMs = secondsField(line, from + 2, to);
      if (Number.isNaN(timestampMs)) {
        sink.malformed('bad-service-check', `service check ${quote(name)} has timestamp ${quote(line.slice(from + 2, to))}: expected d: and whole Unix seconds`, line);
        return;
      }
    } else if (c === 104 /* h */ && to > from + 2) hostname = line.slice(from + 2, to);
    // Anything else: a field of a newer protocol version; skipped.
  }
  sink.serviceCheck({
    kind: 'service_check',
    name,
    status: SERVICE_CHECK_STATUSES[status.charCodeAt(0) - 48]!,
    tags: of.tags,
    origin: originOf(of, NO_ORIGIN),
    ...(timestampMs !== undefined ? { timestampMs } : {}),
    ...(hostname !== undefined ? { hostname } : {}),
    ...(message !== undefined ? { message } : {}),
  });
}

/**
 * The index in `s` after `bytes` UTF-8 bytes from `from`; -1 when `s` ends first or the count ends
 * inside a character (an event's lengths count bytes; the line is a string).
 */
function utf8End(s: string, from: number, bytes: number): number {
  let i = from;
  let n = 0;
  while (n < bytes) {
    if (i >= s.length) return -1;
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
    i++;
  }
  return n === bytes ? i : -1;
}

const isAlertType = (s: string): s is EventAlertType => (EVENT_ALERT_TYPES as readonly string[]).includes(s);

/**
 * `_e{<title length>,<text length>}:<title>|<text>|d:…|h:…|p:…|t:…|k:…|s:…|#…|c:…|e:…`. The lengths
 * count UTF-8 bytes, as clients write them; a line whose title or text is not that long is malformed.
 */
function eventLine(line: string, sink: ParseSink): void {
  const close = line.indexOf('}', 3);
  const comma = line.indexOf(',', 3);
  if (close === -1 || comma === -1 || comma > close || line.charCodeAt(close + 1) !== 58 /* : */) {
    sink.malformed('bad-event', 'event without "_e{<title length>,<text length>}:"', line);
    return;
  }
  const titleLen = parseNumber(line, 3, comma);
  const textLen = parseNumber(line, comma + 1, close);
  if (!Number.isInteger(titleLen) || !Number.isInteger(textLen) || titleLen <= 0 || textLen < 0) {
    sink.malformed('bad-event', `event lengths ${quote(line.slice(2, close + 1))}: expected {<title length>,<text length>}, whole numbers, the title not empty`, line);
    return;
  }
  const titleEnd = utf8End(line, close + 2, titleLen);
  const textEnd = titleEnd === -1 || line.charCodeAt(titleEnd) !== 124 /* | */ ? -1 : utf8End(line, titleEnd + 1, textLen);
  if (textEnd === -1 || (textEnd < line.length && line.charCodeAt(textEnd) !== 124)) {
    sink.malformed('bad-event', `event says its title and text are ${titleLen} and ${textLen} bytes: the line does not have them so, each followed by "|" or the end`, line);
    return;
  }
  const title = line.slice(close + 2, titleEnd);
  const of = resetOriginFields();
  let timestampMs: number | undefined;
  let hostname: string | undefined;
  let alertType: EventAlertType = 'info';
  let priority: 'normal' | 'low' = 'normal';
  let aggregationKey: string | undefined;
  let sourceType: string | undefined;
  let fieldEnd = textEnd;
  while (fieldEnd < line.length) {
    const from = fieldEnd + 1;
    let to = line.indexOf('|', from);
    if (to === -1) to = line.length;
    fieldEnd = to;
    if (to === from || originField(line, from, to, of)) continue;
    if (line.charCodeAt(from + 1) !== 58 /* : */) continue;
    const value = line.slice(from + 2, to);
    switch (line.charCodeAt(from)) {
      case 100 /* d */:
        timestampMs = secondsField(line, from + 2, to);
        if (Number.isNaN(timestampMs)) {
          sink.malformed('bad-event', `event ${quote(title)} has timestamp ${quote(value)}: expected d: and whole Unix seconds`, line);
          return;
        }
        break;
      case 104 /* h */:
        if (value !== '') hostname = value;
        break;
      // An unknown priority or alert type is a newer client's: the default, as the stack's server does.
      case 112 /* p */:
        if (value === 'low') priority = 'low';
        break;
      case 116 /* t */:
        if (isAlertType(value)) alertType = value;
        break;
      case 107 /* k */:
        if (value !== '') aggregationKey = value;
        break;
      case 115 /* s */:
        if (value !== '') sourceType = value;
        break;
      // Anything else: a field of a newer protocol version; skipped.
    }
  }
  sink.event({
    kind: 'event',
    title,
    text: unescapeNewlines(line.slice(titleEnd + 1, textEnd)),
    alertType,
    priority,
    tags: of.tags,
    origin: originOf(of, NO_ORIGIN),
    ...(timestampMs !== undefined ? { timestampMs } : {}),
    ...(hostname !== undefined ? { hostname } : {}),
    ...(aggregationKey !== undefined ? { aggregationKey } : {}),
    ...(sourceType !== undefined ? { sourceType } : {}),
  });
}
