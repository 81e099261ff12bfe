/**
 * Test-only instrumentation, preloaded into `tether serve` with `node --expose-gc --import` (see
 * `serveProcess.ts`): on SIGUSR2, collect garbage and write one JSON line with the memory figures on
 * stderr. Measuring the heap after a full collection tells a leak from garbage not yet collected, which
 * RSS alone cannot. Nothing in `src/` knows about it.
 */
export const MEMORY_REPORT_MSG = 'tether-test-memory-report';

export interface MemoryReport {
  readonly msg: typeof MEMORY_REPORT_MSG;
  /** Whether `gc()` was available (the process was started with --expose-gc). */
  readonly collected: boolean;
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

const gc = (globalThis as { gc?: () => void }).gc;

// Only when loaded as a preload into a process that has a `gc`; importing it for its types does nothing.
if (gc) {
  process.on('SIGUSR2', () => {
    // Twice: the first pass can leave objects whose finalisers free more (Buffers, TLS sockets).
    gc();
    setImmediate(() => {
      gc();
      const m = process.memoryUsage();
      const report: MemoryReport = { msg: MEMORY_REPORT_MSG, collected: true, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
      process.stderr.write(JSON.stringify(report) + '\n');
    });
  });
}
