/**
 * What trace bodies being read or decoded may hold (pure): bytes in all, and bytes and requests per
 * origin (the pod a payload's headers resolve to, else its sender's address), so that one sender can
 * fill its own share and never its neighbours'. Bytes are taken as they arrive, never from what a
 * request declares: a connection that declares 16 MiB and sends nothing holds nothing.
 */

export type HoldRefusal = 'busy' | 'origin_busy';

/** Bytes held by bodies being read or decoded, shared by every connection. */
export class InflightBudget {
  used = 0;
  constructor(readonly max: number) {}
  take(n: number): boolean {
    if (this.used + n > this.max) return false;
    this.used += n;
    return true;
  }
  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }
}

/** One request's share: what it took, given back at once by `release`. */
export interface Hold {
  /** Takes `n` more bytes, or says which budget is full (nothing taken then). */
  take(n: number): HoldRefusal | undefined;
  readonly bytes: number;
  /** Gives back every byte and the request slot; idempotent. */
  release(): void;
}

interface OriginUse {
  bytes: number;
  requests: number;
}

export class InflightBudgets {
  readonly total: InflightBudget;
  private readonly byOrigin = new Map<string, OriginUse>();

  constructor(
    maxBytes: number,
    readonly maxBytesPerOrigin: number,
    readonly maxRequestsPerOrigin: number,
  ) {
    this.total = new InflightBudget(maxBytes);
  }

  /** A hold for one request of `origin`; `undefined` when that origin already has its maximum of requests in flight. */
  open(origin: string): Hold | undefined {
    let use = this.byOrigin.get(origin);
    if (use && use.requests >= this.maxRequestsPerOrigin) return undefined;
    if (!use) this.byOrigin.set(origin, (use = { bytes: 0, requests: 0 }));
    use.requests++;
    const u = use;
    let held = 0;
    let open = true;
    return {
      take: (n) => {
        if (u.bytes + n > this.maxBytesPerOrigin) return 'origin_busy';
        if (!this.total.take(n)) return 'busy';
        u.bytes += n;
        held += n;
        return undefined;
      },
      get bytes() {
        return held;
      },
      release: () => {
        if (!open) return;
        open = false;
        this.total.give(held);
        u.bytes -= held;
        held = 0;
        if (--u.requests === 0) this.byOrigin.delete(origin);
      },
    };
  }

  /** Bytes and requests `origin` holds now. */
  usage(origin: string): { readonly bytes: number; readonly requests: number } {
    return this.byOrigin.get(origin) ?? { bytes: 0, requests: 0 };
  }
}
