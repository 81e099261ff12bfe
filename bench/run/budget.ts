/**
 * The bench's time budget. On a shared machine every run may wait for quiet and be measured again when
 * others were busy meanwhile; without a bound, waits and repeats add up past any deadline (a run of
 * `npm run bench` once went past 15 minutes). The budget says how much of that extra time is left: the
 * total, less what has been spent, less what the runs still to do will take at the average so far.
 */

export interface TimeBudget {
  /**
   * Times one run (one load generator job): its duration feeds the estimate of the runs left. A repeat
   * (`planned` false) is extra: it spends slack and leaves the planned runs as many as before.
   */
  measured<T>(run: () => Promise<T>, planned: boolean): Promise<T>;
  /** Seconds that may still go to waiting and repeating; negative when the plain runs alone overrun. */
  slackSec(): number;
  /** Average seconds per run so far (`estimateSec` before the first). */
  runSec(): number;
}

/**
 * `totalSec` for the whole measurement, `plannedRuns` of them, each expected to take `estimateSec` until
 * one has been timed. `now` is injectable (tests).
 */
export function createTimeBudget(totalSec: number, plannedRuns: number, estimateSec: number, now: () => number = () => performance.now()): TimeBudget {
  const started = now();
  let runs = 0;
  let plannedDone = 0;
  let runTime = 0;
  const runSec = () => (runs === 0 ? estimateSec : runTime / runs);
  return {
    async measured(run, planned) {
      const t0 = now();
      try {
        return await run();
      } finally {
        runs++;
        if (planned) plannedDone++;
        runTime += (now() - t0) / 1000;
      }
    },
    slackSec() {
      const elapsed = (now() - started) / 1000;
      return totalSec - elapsed - Math.max(0, plannedRuns - plannedDone) * runSec();
    },
    runSec,
  };
}
