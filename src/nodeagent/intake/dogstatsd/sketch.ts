/**
 * A small DDSketch (Masson, Rim, Lee, VLDB 2019; the sketch the stack's own distributions use): values
 * go into logarithmic bins, so any quantile is within a relative error `alpha` of a true value, in
 * bounded memory whatever the number of values (pure).
 *
 * Bin `i` holds the values in (γ^(i-1), γ^i] with γ = (1+α)/(1-α); negative values have their own bins
 * by magnitude, and values of magnitude below `MIN_MAGNITUDE` count as zero. Each sign keeps at most
 * `maxBins` contiguous bins: when a new value would need more, the lowest bins collapse into one, so
 * the high quantiles (p95, p99: what latencies are read for) keep their accuracy and only the lowest
 * values lose it. Weights are fractional: a histogram sampled at `@0.25` adds each value with weight 4.
 */

const MIN_MAGNITUDE = 1e-9;
const INITIAL_BINS = 16;

/** Contiguous bins of one sign, `counts[i]` being bin `offset + i`. */
class DenseStore {
  private counts: Float64Array | undefined;
  private offset = 0;
  private lo = Number.POSITIVE_INFINITY;
  private hi = Number.NEGATIVE_INFINITY;
  total = 0;

  constructor(private readonly maxBins: number) {}

  add(index: number, weight: number): void {
    if (this.counts === undefined || index < this.offset || index >= this.offset + this.counts.length) index = this.extend(index);
    this.counts![index - this.offset]! += weight;
    if (index < this.lo) this.lo = index;
    if (index > this.hi) this.hi = index;
    this.total += weight;
  }

  /**
   * A new array covering the bins in use and `index`, at most `maxBins` wide, the lowest collapsed;
   * returns the bin to add to (`index`, or the lowest kept one when `index` itself collapsed).
   */
  private extend(index: number): number {
    const old = this.counts;
    let lo = Math.min(this.lo, index);
    const hi = Math.max(this.hi, index);
    if (hi - lo + 1 > this.maxBins) lo = hi - this.maxBins + 1;
    // Room to grow on both sides of what is needed now, within the bound.
    const need = hi - lo + 1;
    const size = Math.min(this.maxBins, Math.max(INITIAL_BINS, need * 2));
    let offset = lo - Math.floor((size - need) / 2);
    if (offset + size - 1 < hi) offset = hi - size + 1;
    const counts = new Float64Array(size);
    if (old) {
      for (let i = 0; i < old.length; i++) {
        const c = old[i]!;
        if (c === 0) continue;
        const j = Math.max(this.offset + i, lo);
        counts[j - offset]! += c;
      }
      if (this.lo < lo) this.lo = lo;
    }
    this.counts = counts;
    this.offset = offset;
    return Math.max(index, lo);
  }

  /** Visits the non-empty bins, lowest index first (`ascending`) or highest first. */
  forEach(ascending: boolean, visit: (index: number, count: number) => boolean): void {
    const counts = this.counts;
    if (!counts || this.total === 0) return;
    if (ascending) {
      for (let i = this.lo; i <= this.hi; i++) {
        const c = counts[i - this.offset]!;
        if (c > 0 && visit(i, c)) return;
      }
    } else {
      for (let i = this.hi; i >= this.lo; i--) {
        const c = counts[i - this.offset]!;
        if (c > 0 && visit(i, c)) return;
      }
    }
  }

  /** Bins allocated (for the memory bound's tests). */
  get capacity(): number {
    return this.counts?.length ?? 0;
  }
}

export class Sketch {
  private readonly logGamma: number;
  private readonly gamma: number;
  private readonly positive: DenseStore;
  private readonly negative: DenseStore;
  private zero = 0;
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;

  constructor(relativeAccuracy: number, maxBins: number) {
    this.gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy);
    this.logGamma = Math.log(this.gamma);
    this.positive = new DenseStore(maxBins);
    this.negative = new DenseStore(maxBins);
  }

  add(value: number, weight = 1): void {
    if (value > MIN_MAGNITUDE) this.positive.add(Math.ceil(Math.log(value) / this.logGamma), weight);
    else if (value < -MIN_MAGNITUDE) this.negative.add(Math.ceil(Math.log(-value) / this.logGamma), weight);
    else this.zero += weight;
    this.count += weight;
    this.sum += value * weight;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  /** The value at quantile `q` (0..1), within the relative accuracy of a value seen; NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = q * (this.count - 1);
    let seen = 0;
    let found = Number.NaN;
    // Ascending values: the most negative first, then zero, then the positives.
    this.negative.forEach(false, (i, c) => {
      seen += c;
      if (seen > rank) {
        found = -this.valueOf(i);
        return true;
      }
      return false;
    });
    if (Number.isNaN(found)) {
      seen += this.zero;
      if (this.zero > 0 && seen > rank) found = 0;
    }
    if (Number.isNaN(found)) {
      this.positive.forEach(true, (i, c) => {
        seen += c;
        if (seen > rank) {
          found = this.valueOf(i);
          return true;
        }
        return false;
      });
    }
    // Rounding of fractional weights can leave the rank just past the last bin: that is the maximum.
    if (Number.isNaN(found)) found = this.max;
    return Math.min(this.max, Math.max(this.min, found));
  }

  /** The bins allocated, both signs: what the memory bound is about. */
  get bins(): number {
    return this.positive.capacity + this.negative.capacity;
  }

  /** The estimate of bin `i` whose relative error is at most alpha for every value of the bin. */
  private valueOf(i: number): number {
    return (2 * Math.pow(this.gamma, i)) / (this.gamma + 1);
  }
}
