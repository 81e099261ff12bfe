/**
 * What a DogStatsD window may hold, in bytes, per window and per origin (pure; issue 19). The
 * aggregator asks `admit` before it creates a series or adds a set member and `charge`s what it keeps;
 * whatever is refused is counted by reason and origin (`drop`), never thrown.
 *
 * An origin is the pod the sender resolves to (all its containers and ids share one budget), else the
 * key it sent (entity or container id) unresolved, else `none`. At most `DOGSTATSD_MAX_ORIGINS_PER_WINDOW`
 * origins get their own budget per window: further ones share `DOGSTATSD_OTHER_ORIGINS`, so a sender
 * making up ids gets one more budget, not thousands.
 */
import {
  DOGSTATSD_MAX_METRIC_NAME_LENGTH,
  DOGSTATSD_MAX_ORIGINS_PER_WINDOW,
  DOGSTATSD_MAX_TAG_LENGTH,
  DOGSTATSD_MAX_TAGS_PER_METRIC,
  DOGSTATSD_ORIGIN_MAX_BYTES,
  DOGSTATSD_OTHER_ORIGINS,
  DOGSTATSD_WINDOW_MAX_BYTES,
} from '../../../config/limits.js';
import type { Origin, OriginResolver, ResolvedOrigin } from '../types.js';

/**
 * Why a sample (or a set member) was not kept: `series_limit` (the window's series count),
 * `window_bytes` / `origin_bytes` (the byte budgets), `name_too_long`, `tag_too_long`, `too_many_tags`.
 */
export const DROP_REASONS = ['series_limit', 'window_bytes', 'origin_bytes', 'name_too_long', 'tag_too_long', 'too_many_tags'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** The configurable bounds (`dogstatsd_*` keys; defaults in `limits.ts`). */
export interface DogStatsDBounds {
  readonly windowMaxBytes: number;
  readonly originMaxBytes: number;
  readonly maxNameLength: number;
  readonly maxTagLength: number;
  readonly maxTags: number;
}

export const DEFAULT_BOUNDS: DogStatsDBounds = {
  windowMaxBytes: DOGSTATSD_WINDOW_MAX_BYTES,
  originMaxBytes: DOGSTATSD_ORIGIN_MAX_BYTES,
  maxNameLength: DOGSTATSD_MAX_METRIC_NAME_LENGTH,
  maxTagLength: DOGSTATSD_MAX_TAG_LENGTH,
  maxTags: DOGSTATSD_MAX_TAGS_PER_METRIC,
};

/** The bounds of the `dogstatsd_*` configuration keys that are set, the defaults for the others. */
export function boundsFromConfig(cfg: {
  readonly dogstatsd_window_max_bytes?: number;
  readonly dogstatsd_origin_max_bytes?: number;
  readonly dogstatsd_max_metric_name_length?: number;
  readonly dogstatsd_max_tag_length?: number;
  readonly dogstatsd_max_tags_per_metric?: number;
}): DogStatsDBounds {
  return {
    windowMaxBytes: cfg.dogstatsd_window_max_bytes ?? DEFAULT_BOUNDS.windowMaxBytes,
    originMaxBytes: cfg.dogstatsd_origin_max_bytes ?? DEFAULT_BOUNDS.originMaxBytes,
    maxNameLength: cfg.dogstatsd_max_metric_name_length ?? DEFAULT_BOUNDS.maxNameLength,
    maxTagLength: cfg.dogstatsd_max_tag_length ?? DEFAULT_BOUNDS.maxTagLength,
    maxTags: cfg.dogstatsd_max_tags_per_metric ?? DEFAULT_BOUNDS.maxTags,
  };
}

/** The first cap a sample's name and tags break, if any (checked once per new lookup key, not per sample). */
export function shapeProblem(name: string, tags: readonly string[], b: DogStatsDBounds): DropReason | undefined {
  if (name.length > b.maxNameLength) return 'name_too_long';
  if (tags.length > b.maxTags) return 'too_many_tags';
  for (const t of tags) if (t.length > b.maxTagLength) return 'tag_too_long';
  return undefined;
}

/**
 * A copy of `s` that owns its bytes, and their UTF-8 length (at least what V8 holds for it). Strings the
 * parser cuts are slices of the whole datagram (up to `dogstatsd_buffer_size`): keeping one would keep
 * the datagram, whatever the budget counted. Only what a window keeps is copied, once.
 */
export function owned(s: string): { readonly s: string; readonly bytes: number } {
  const buf = Buffer.from(s, 'utf8');
  return { s: buf.toString('utf8'), bytes: buf.length };
}

/** The key an origin is budgeted (and a series found) under: '' when it names none. */
export const originKeyOf = (o: Origin): string => (o.entityId === undefined && o.containerId === undefined ? '' : `${o.entityId ?? ''}\u0001${o.containerId ?? ''}`);

/** The budget of one origin in one window. */
export interface OriginBudget {
  /** What it is counted as: `namespace/pod`, the sender's key, `none` or `other`. */
  readonly label: string;
  bytes: number;
}

/** A label from a sender's own key: bounded (it is a metric label) and free of control characters. */
const senderLabel = (o: Origin): string => {
  const raw = o.entityId !== undefined ? `entity:${o.entityId}` : o.containerId !== undefined ? `container:${o.containerId}` : `inode:${o.cgroupInode ?? ''}`;
  return raw.replace(/[^\x20-\x7e]/g, '?').slice(0, 100);
};

/** One window's byte accounting. */
export class WindowBudget {
  bytes = 0;
  private readonly byKey = new Map<string, OriginBudget>();
  /** What each origin resolved to when first seen this window (the flush asks again only for those that did not). */
  readonly resolved = new Map<string, ResolvedOrigin>();
  private readonly byLabel = new Map<string, OriginBudget>();
  private readonly none: OriginBudget = { label: 'none', bytes: 0 };
  private readonly other: OriginBudget = { label: DOGSTATSD_OTHER_ORIGINS, bytes: 0 };
  /** Drops of this window, by origin label then reason. */
  readonly drops = new Map<string, Record<DropReason, number>>();

  constructor(
    private readonly bounds: DogStatsDBounds,
    private readonly resolver: OriginResolver,
  ) {}

  /** The budget of a sender (`originKey` '' when it named none), resolved once per window. */
  of(origin: Origin, originKey: string): OriginBudget {
    if (originKey === '') return this.none;
    let b = this.byKey.get(originKey);
    if (b) return b;
    if (this.byKey.size >= DOGSTATSD_MAX_ORIGINS_PER_WINDOW) return this.other;
    const pod = this.resolver.resolve(origin);
    if (pod) this.resolved.set(originKey, pod);
    const label = pod ? `${pod.namespace}/${pod.pod}` : senderLabel(origin);
    b = this.byLabel.get(label);
    if (!b) this.byLabel.set(label, (b = { label, bytes: 0 }));
    this.byKey.set(originKey, b);
    return b;
  }

  /** Why `bytes` more cannot be held for `origin`, if they cannot. */
  refuse(origin: OriginBudget, bytes: number): DropReason | undefined {
    if (origin.bytes + bytes > this.bounds.originMaxBytes) return 'origin_bytes';
    if (this.bytes + bytes > this.bounds.windowMaxBytes) return 'window_bytes';
    return undefined;
  }

  charge(origin: OriginBudget, bytes: number): void {
    origin.bytes += bytes;
    this.bytes += bytes;
  }

  drop(origin: OriginBudget, reason: DropReason): void {
    let r = this.drops.get(origin.label);
    if (!r) this.drops.set(origin.label, (r = newDropCounts()));
    r[reason]++;
  }
}

export function newDropCounts(): Record<DropReason, number> {
  return Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
}
