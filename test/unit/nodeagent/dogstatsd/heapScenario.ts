/**
 * The review's reproduction of issue 19, run by `bounds.test.ts` in a child process with a 256 MiB heap
 * (the chart's limit): 30,000 DogStatsD series with 8 KB tag sets, each from an origin of its own, then
 * the window's flush and the whole `/dogstatsd/metrics` page. Before the byte budgets this was a fatal
 * out-of-memory. Not a test file itself: `run` does the work when asked.
 */
import { Registry } from 'prom-client';
import { createDogStatsDIntake } from '../../../../src/nodeagent/intake/dogstatsd/index.js';
import { testConfig } from '../../../helpers/config.js';
import { recordingLogger } from '../../../helpers/logs.js';
import { manualClock } from '../../../helpers/manual.js';

export const SERIES = 30_000;
const TAGS = 40;

/** One datagram of just under 8 KB: a counter with 40 tags of 195 characters, all unique to series `i`. */
export function hugeDatagram(i: number, pad: string): Buffer {
  const tags = Array.from({ length: TAGS }, (_, t) => `k${t}:${i}-${pad}`.slice(0, 195));
  return Buffer.from(`app.requests:1|c|#dd.internal.entity_id:pod-${i},${tags.join(',')}`);
}

export async function run(): Promise<void> {
  const registry = new Registry();
  const intake = createDogStatsDIntake({
    config: testConfig({ dogstatsd_port: 0, dogstatsd_socket: '' }),
    resolver: { resolve: () => undefined },
    logger: recordingLogger('warn').logger,
    registry,
    clock: manualClock(0),
  });
  const pad = 'x'.repeat(200);
  for (let i = 0; i < SERIES; i++) intake.handleDatagram(hugeDatagram(i, pad), 'udp');
  const series = intake.flush().length;
  let pageBytes = 0;
  for (const chunk of intake.prometheus().body) pageBytes += chunk.length;
  const counts = intake.status().counts;
  process.stdout.write(JSON.stringify({ series, pageBytes, windowBytes: counts.lastWindowBytes, dropped: counts.droppedSamples, byOrigin: counts.droppedByOrigin, heapUsed: process.memoryUsage().heapUsed }) + '\n');
}
