/**
 * DogStatsD samples → one series per window (pure: the caller says what time it is). A series is one
 * metric name and type, its sorted tags and its origin; per window:
 * - counts are summed, each value divided by its sample rate (`x:1|c|@0.1` counts 10);
 * - gauges keep their last value, sets the number of distinct members;
 * - histograms, timings and distributions become a summary: count and sum (sample rate applied), min,
 *   max and quantiles from a bounded sketch (`sketch.ts`).
 *
 * A sample with its own timestamp (`|T`) goes into the window of that timestamp, not the current one,
 * and comes out with that window's start and end at the next flush (the stack's server sends such
 * samples as they are; a window keeps the same meaning here while staying one shape for the exporters).
 *
 * Bounded in bytes (`bounds.ts`): a series costs its name, tags, lookup keys and value state, charged
 * to its window and to its origin (the pod it resolves to) when it is created; a series or set member that
 * does not fit, or a sample whose name or tags break the caps, is dropped and counted by reason and
 * origin. Also at most `maxSeries` series per window, a bounded sketch per summary and bounded set
 * members. What a window keeps owns its strings (`owned`): never a slice holding a whole datagram.
 * Origins are resolved to their pod once per origin and window for the budget, and once per distinct
 * origin at the flush (a pod seen first mid-window is then known), never per sample.
 */
import {
  DOGSTATSD_FLUSH_INTERVAL_MS,
  DOGSTATSD_MAX_SERIES_PER_WINDOW,
  DOGSTATSD_MAX_SET_MEMBERS,
  DOGSTATSD_MAX_SET_MEMBERS_PER_WINDOW,
  DOGSTATSD_QUANTILES,
  DOGSTATSD_SERIES_OVERHEAD_BYTES,
  DOGSTATSD_SET_MEMBER_OVERHEAD_BYTES,
  DOGSTATSD_SKETCH_MAX_BINS,
  DOGSTATSD_SKETCH_MAX_BYTES,
  DOGSTATSD_SKETCH_RELATIVE_ACCURACY,
} from '../../../config/limits.js';
import type { AggregatedSeries, DogStatsDMetricType, DogStatsDSample, Origin, OriginResolver, ResolvedOrigin } from '../types.js';
import { DEFAULT_BOUNDS, originKeyOf, owned, shapeProblem, WindowBudget, type DogStatsDBounds, type DropReason, type OriginBudget } from './bounds.js';
import { Sketch } from './sketch.js';

export interface AggregatorOptions {
  readonly resolver: OriginResolver;
  /** Start of the first window, epoch ms. */
  readonly startMs: number;
  readonly windowMs?: number;
  readonly maxSeries?: number;
  readonly maxSetMembers?: number;
  readonly maxSetMembersPerWindow?: number;
  readonly sketchMaxBins?: number;
  readonly relativeAccuracy?: number;
  readonly quantiles?: readonly number[];
  /** Byte budgets and caps; `DEFAULT_BOUNDS` by default. */
  readonly bounds?: DogStatsDBounds;
}

/** What one window held, besides its series: for the counters and the status. */
export interface WindowStats {
  readonly samples: number;
  readonly series: number;
  /** Samples dropped, whatever the reason (`drops` says which and whose). */
  readonly droppedSamples: number;
  /** Samples and set members dropped, by origin (`namespace/pod`, the sender's key, `none`, `other`) then reason. */
  readonly drops: ReadonlyMap<string, Readonly<Record<DropReason, number>>>;
  /** Bytes the window held (as `bounds.ts` counts them). */
  readonly bytes: number;
  /** Set members past a set's or the window's bound (the set's count is then a lower bound). */
  readonly droppedSetMembers: number;
  /** Series whose origin resolved to a pod of this node. */
  readonly seriesWithPod: number;
  /** Series that named an origin (entity or container id) no pod of this node matches. */
  readonly seriesUnknownOrigin: number;
  /** Series that named no origin at all. */
  readonly seriesNoOrigin: number;
}

export interface Aggregator {
  add(sample: DogStatsDSample): void;
  /** Ends the current window at `nowMs`: its series (and those of past windows that `|T` samples filled) and its stats. */
  flush(nowMs: number): { readonly series: AggregatedSeries[]; readonly stats: WindowStats };
  /** Series held now. */
  readonly size: number;
  /** Bytes held now. */
  readonly bytes: number;
}

type Kind = AggregatedSeries['kind'];

interface Series {
  readonly name: string;
  readonly kind: Kind;
  readonly tags: readonly string[];
  readonly origin: Origin;
  readonly originKey: string;
  /** The budget its bytes were charged to (set members are charged there too). */
  readonly budget: OriginBudget;
  /** Window of a `|T` series; `undefined` for the current window. */
  readonly bucketMs: number | undefined;
  value: number;
  /** Gauges with timestamps: the latest timestamp wins, not the latest arrival. */
  valueAtMs: number;
  members: Set<string> | undefined;
  sketch: Sketch | undefined;
}

const KIND: Record<DogStatsDMetricType, Kind> = {
  count: 'sum',
  gauge: 'gauge',
  set: 'gauge',
  histogram: 'summary',
  timing: 'summary',
  distribution: 'summary',
};
const TYPE_CODE: Record<DogStatsDMetricType, string> = { count: 'c', gauge: 'g', set: 's', histogram: 'h', timing: 'm', distribution: 'd' };


/** A lookup key for samples that came without the parser's `contextKey` (made by hand, in tests). */
const contextKeyOf = (s: DogStatsDSample): string =>
  `${TYPE_CODE[s.type]}\u0000${originKeyOf(s.origin)}\u0000${s.timestampMs ?? ""}\u0000${s.tags.join(',')}`;

/** Sorted, without duplicates (a new array only when needed). */
function canonicalTags(tags: readonly string[]): readonly string[] {
  let sorted = true;
  for (let i = 1; i < tags.length; i++) {
    if (tags[i - 1]! >= tags[i]!) {
      sorted = false;
      break;
    }
  }
  if (sorted) return tags;
  const out = [...new Set(tags)].sort();
  return out;
}

export function createAggregator(opts: AggregatorOptions): Aggregator {
  const windowMs = opts.windowMs ?? DOGSTATSD_FLUSH_INTERVAL_MS;
  const maxSeries = opts.maxSeries ?? DOGSTATSD_MAX_SERIES_PER_WINDOW;
  const maxSetMembers = opts.maxSetMembers ?? DOGSTATSD_MAX_SET_MEMBERS;
  const maxSetMembersPerWindow = opts.maxSetMembersPerWindow ?? DOGSTATSD_MAX_SET_MEMBERS_PER_WINDOW;
  const sketchMaxBins = opts.sketchMaxBins ?? DOGSTATSD_SKETCH_MAX_BINS;
  const accuracy = opts.relativeAccuracy ?? DOGSTATSD_SKETCH_RELATIVE_ACCURACY;
  const quantiles = opts.quantiles ?? DOGSTATSD_QUANTILES;
  const bounds = opts.bounds ?? DEFAULT_BOUNDS;

  let windowStart = opts.startMs;
  /** By canonical key (sorted tags). */
  let series = new Map<string, Series>();
  /**
   * By name, then the key as the sample came (its `contextKey`: tags in the client's order, sample rate,
   * timestamp…) → its series: most samples are found here with two lookups of strings the parser already
   * cut, without sorting their tags. At most 2 × maxSeries entries, so permuted tags cannot grow it.
   */
  let byRawKey = new Map<string, Map<string, Series>>();
  let rawKeys = 0;
  let samples = 0;
  let droppedSamples = 0;
  let droppedSetMembers = 0;
  let setMembers = 0;
  let budget = new WindowBudget(bounds, opts.resolver);

  const drop = (b: OriginBudget, reason: DropReason): undefined => {
    droppedSamples++;
    budget.drop(b, reason);
    return undefined;
  };

  /** A new series, owning its strings, charged to its origin; `undefined` (counted) when it does not fit. */
  const create = (s: DogStatsDSample, key: string, tags: readonly string[], oKey: string, bucketMs: number | undefined, b: OriginBudget): Series | undefined => {
    if (series.size >= maxSeries) return drop(b, 'series_limit');
    // A pod past its budget sends many samples of new series: refused on a lower bound of the cost (string
    // lengths), before anything is copied.
    const lowerBound = DOGSTATSD_SERIES_OVERHEAD_BYTES + s.name.length + 2 * key.length;
    const early = budget.refuse(b, lowerBound);
    if (early) return drop(b, early);
    const name = owned(s.name);
    let bytes = DOGSTATSD_SERIES_OVERHEAD_BYTES + name.bytes + 2 * key.length + (KIND[s.type] === 'summary' ? DOGSTATSD_SKETCH_MAX_BYTES : 0);
    const ownTags = tags.map((t) => {
      const o = owned(t);
      bytes += o.bytes + 16;
      return o.s;
    });
    const origin: { entityId?: string; containerId?: string; cgroupInode?: string } = {};
    if (s.origin.entityId !== undefined) bytes += (origin.entityId = owned(s.origin.entityId).s).length;
    if (s.origin.containerId !== undefined) bytes += (origin.containerId = owned(s.origin.containerId).s).length;
    if (s.origin.cgroupInode !== undefined) origin.cgroupInode = s.origin.cgroupInode;
    const refused = budget.refuse(b, bytes);
    if (refused) return drop(b, refused);
    budget.charge(b, bytes);
    const found: Series = { name: name.s, kind: KIND[s.type], tags: ownTags, origin, originKey: oKey, budget: b, bucketMs, value: 0, valueAtMs: Number.NEGATIVE_INFINITY, members: undefined, sketch: undefined };
    series.set(key, found);
    return found;
  };

  const find = (s: DogStatsDSample): Series | undefined => {
    const rawKey = s.contextKey ?? contextKeyOf(s);
    let inner = byRawKey.get(s.name);
    const hit = inner?.get(rawKey);
    if (hit) return hit;
    const oKey = originKeyOf(s.origin);
    const b = budget.of(s.origin, oKey);
    const problem = shapeProblem(s.name, s.tags, bounds);
    if (problem) return drop(b, problem);
    const bucketMs = s.timestampMs === undefined ? undefined : Math.floor(s.timestampMs / windowMs) * windowMs;
    const tags = canonicalTags(s.tags);
    const key = `${TYPE_CODE[s.type]}${s.name}\u0000${oKey}\u0000${bucketMs ?? ''}\u0000${tags.join(',')}`;
    let found = series.get(key);
    if (!found) {
      // A new series may be a new pod's first: let the resolver fetch it before this window's flush.
      opts.resolver.notice?.(s.origin);
      found = create(s, key, tags, oKey, bucketMs, b);
      if (!found) return undefined;
    }
    // The shortcut is kept while it fits the series' budget (it is a copy of the line's tail); without it
    // the same series is still found, through the sorted key.
    const rawBytes = DOGSTATSD_SET_MEMBER_OVERHEAD_BYTES + 2 * (s.name.length + rawKey.length);
    if (rawKeys < 2 * maxSeries && budget.refuse(found.budget, rawBytes) === undefined) {
      budget.charge(found.budget, rawBytes);
      if (!inner) byRawKey.set(owned(s.name).s, (inner = new Map()));
      inner.set(owned(rawKey).s, found);
      rawKeys++;
    }
    return found;
  };

  return {
    get size() {
      return series.size;
    },
    get bytes() {
      return budget.bytes;
    },

    add(s) {
      samples++;
      const target = find(s);
      if (!target) return;
      switch (s.type) {
        case 'count':
          target.value += s.value / s.sampleRate;
          return;
        case 'gauge': {
          // Untimestamped: the latest arrival; timestamped: the latest timestamp (ties: the latest arrival).
          const at = s.timestampMs ?? 0;
          if (at >= target.valueAtMs) {
            target.value = s.value;
            target.valueAtMs = at;
          }
          return;
        }
        case 'set': {
          const members = (target.members ??= new Set());
          const member = s.setValue ?? '';
          if (members.has(member)) return;
          const kept = owned(member);
          const bytes = kept.bytes + DOGSTATSD_SET_MEMBER_OVERHEAD_BYTES;
          const refused = budget.refuse(target.budget, bytes);
          if (members.size >= maxSetMembers || setMembers >= maxSetMembersPerWindow || refused) {
            droppedSetMembers++;
            if (refused) budget.drop(target.budget, refused);
            return;
          }
          budget.charge(target.budget, bytes);
          members.add(kept.s);
          setMembers++;
          return;
        }
        default:
          (target.sketch ??= new Sketch(accuracy, sketchMaxBins)).add(s.value, 1 / s.sampleRate);
      }
    },

    flush(nowMs) {
      const out: AggregatedSeries[] = [];
      const resolved = new Map<string, ResolvedOrigin | undefined>(budget.resolved);
      let withPod = 0;
      let unknown = 0;
      let none = 0;
      for (const s of series.values()) {
        let origin: ResolvedOrigin | undefined;
        if (s.originKey === '') none++;
        else {
          if (resolved.has(s.originKey)) origin = resolved.get(s.originKey);
          else {
            origin = opts.resolver.resolve(s.origin);
            resolved.set(s.originKey, origin);
          }
          if (origin) withPod++;
          else unknown++;
        }
        const tags = origin && origin.tags.length > 0 ? [...new Set([...s.tags, ...origin.tags])].sort() : [...s.tags];
        const startMs = s.bucketMs ?? windowStart;
        const endMs = s.bucketMs === undefined ? nowMs : s.bucketMs + windowMs;
        const base = { name: s.name, kind: s.kind, tags, ...(origin ? { origin } : {}), startMs, endMs };
        if (s.kind === 'summary') {
          const k = s.sketch!;
          out.push({
            ...base,
            summary: { count: k.count, sum: k.sum, min: k.min, max: k.max, quantiles: quantiles.map((q) => ({ q, value: k.quantile(q) })) },
          });
        } else out.push({ ...base, value: s.members ? s.members.size : s.value });
      }
      const stats: WindowStats = {
        samples,
        series: series.size,
        droppedSamples,
        drops: budget.drops,
        bytes: budget.bytes,
        droppedSetMembers,
        seriesWithPod: withPod,
        seriesUnknownOrigin: unknown,
        seriesNoOrigin: none,
      };
      series = new Map();
      budget = new WindowBudget(bounds, opts.resolver);
      byRawKey = new Map();
      rawKeys = 0;
      samples = droppedSamples = droppedSetMembers = setMembers = 0;
      windowStart = nowMs;
      return { series: out, stats };
    },
  };
}
