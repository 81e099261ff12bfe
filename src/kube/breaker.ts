/**
 * Stops asking an API server that does not answer. When Tether's reads of owners and namespaces get no
 * answer at all (a hung API server, a network that drops packets), each tags review would wait its whole
 * facts budget, seconds added to every pod created meanwhile. After `threshold` unanswered reads in a
 * row the breaker opens: reads fail at once for `coolDownMs`, and reviews are answered without the fact,
 * with a warning. Then a single read goes through as a probe. Any answer (even a 403 or a refused
 * connection: nothing waited) closes the breaker again, and no answer opens it for another cool-down.
 *
 * A read counts as unanswered only when it was aborted after waiting at least `slowMs`. A caller that
 * leaves early (its client hung up) says nothing about the server.
 */

export type BreakerState = 'closed' | 'open' | 'probing';

export interface ReadBreakerOptions {
  /** Unanswered reads in a row that open the breaker. */
  readonly threshold: number;
  /** How long reads fail at once before a probe is let through. */
  readonly coolDownMs: number;
  /** A read aborted sooner than this is not counted. */
  readonly slowMs: number;
  /** Milliseconds clock (tests). Default `Date.now`. */
  readonly now?: () => number;
  /** Told when the breaker opens (after `unanswered` reads) and when an answer closes it. */
  readonly onChange?: (state: 'open' | 'closed', unanswered: number) => void;
}

/** A read refused without being sent, because the API server has not been answering. */
export class ApiNotAnswering extends Error {
  override name = 'ApiNotAnswering';
}

export interface ReadBreaker {
  /**
   * Runs `read` unless the breaker is open (then rejects with `ApiNotAnswering` without calling it).
   * `signal` is the one the read runs under: its abort, after `slowMs`, is what "unanswered" means.
   */
  run<T>(read: () => Promise<T>, signal: AbortSignal): Promise<T>;
  state(): BreakerState;
}

export function createReadBreaker(opts: ReadBreakerOptions): ReadBreaker {
  const now = opts.now ?? Date.now;
  let unanswered = 0;
  let open = false;
  let openUntil = 0;
  let probing = false;

  const answered = (): void => {
    unanswered = 0;
    if (!open) return;
    open = false;
    opts.onChange?.('closed', 0);
  };
  const notAnswered = (): void => {
    unanswered++;
    if (unanswered < opts.threshold) return;
    openUntil = now() + opts.coolDownMs;
    if (open) return;
    open = true;
    opts.onChange?.('open', unanswered);
  };

  return {
    async run<T>(read: () => Promise<T>, signal: AbortSignal): Promise<T> {
      let probe = false;
      if (open) {
        if (probing || now() < openUntil) {
          const wait = Math.max(0, Math.ceil((openUntil - now()) / 1000));
          throw new ApiNotAnswering(
            `the API server did not answer Tether's last ${unanswered} reads; not asking it again ${probing ? 'until a probe read gets an answer' : `for ${wait} s`}`,
          );
        }
        probing = probe = true;
      }
      const started = now();
      try {
        const value = await read();
        answered();
        return value;
      } catch (e) {
        if (!signal.aborted) answered();
        else if (now() - started >= opts.slowMs) notAnswered();
        throw e;
      } finally {
        if (probe) probing = false;
      }
    },
    state: () => (!open ? 'closed' : probing ? 'probing' : 'open'),
  };
}
