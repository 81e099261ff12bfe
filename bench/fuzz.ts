/**
 * `npm run fuzz`: the long fuzz run of `tether serve` (the e2e suite runs the same campaign at a small
 * size, test/e2e/robustness-fuzz.test.ts). Generated and corrupted AdmissionReviews against a real
 * process; every answer checked; memory (heap after GC, RSS) compared with the baseline afterwards.
 *
 *   npm run fuzz -- --runs 20000 --seconds 300 --concurrency 8 --seed 42
 *
 * Flags win over TETHER_FUZZ_RUNS, TETHER_FUZZ_SECONDS, TETHER_FUZZ_CONCURRENCY, TETHER_FUZZ_SEED.
 * Exit code 0 when every answer was right and memory came back; 1 otherwise, with the failing cases (and
 * the seed to replay them) on stderr.
 */
import { parseArgs } from 'node:util';
import { campaignProblems, mib, retainedBytes, RETAINED_TOLERANCE_BYTES, RSS_TOLERANCE_BYTES, runFuzzCampaign } from '../test/helpers/reviewFuzz.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string' },
    seconds: { type: 'string' },
    concurrency: { type: 'string' },
    seed: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('usage: npm run fuzz -- [--runs N (20000)] [--seconds S (600)] [--concurrency C (8)] [--seed N (random)]');
  process.exit(0);
}

function intOption(flag: string | undefined, env: string, fallback: number): number {
  const raw = flag ?? process.env[env];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`fuzz: ${flag !== undefined ? 'flag' : env} must be a non-negative integer, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
}

const runs = intOption(values.runs, 'TETHER_FUZZ_RUNS', 20_000);
const seconds = intOption(values.seconds, 'TETHER_FUZZ_SECONDS', 600);
const concurrency = Math.max(1, intOption(values.concurrency, 'TETHER_FUZZ_CONCURRENCY', 8));
const seed = intOption(values.seed, 'TETHER_FUZZ_SEED', Date.now() % 2 ** 31);

console.log(`fuzz: ${runs} cases, at most ${seconds} s, ${concurrency} at a time, seed ${seed}`);
let lastPrint = Date.now();
const report = await runFuzzCampaign({
  runs,
  timeLimitMs: seconds * 1000,
  concurrency,
  seed,
  warmupRuns: 200,
  log: (line) => console.log(line),
  onProgress: (done) => {
    if (Date.now() - lastPrint > 5_000) {
      lastPrint = Date.now();
      console.log(`  ${done} cases`);
    }
  },
});

const { fuzz } = report;
console.log(`\n${fuzz.runs} cases in ${(fuzz.durationMs / 1000).toFixed(1)} s (${Math.round(fuzz.runs / (fuzz.durationMs / 1000))}/s)${fuzz.interrupted ? ', stopped by the time limit' : ''}, seed ${fuzz.seed}`);
const rows = Object.entries(fuzz.byCategory).sort(([a], [b]) => a.localeCompare(b));
const width = Math.max(...rows.map(([c]) => c.length));
for (const [category, s] of rows) {
  const statuses = Object.entries(s.statuses)
    .map(([k, n]) => `${k}×${n}`)
    .join(' ');
  console.log(`  ${category.padEnd(width)}  ${String(s.count).padStart(6)}  max ${s.maxMs.toFixed(0).padStart(5)} ms  ${statuses}`);
}
console.log(
  `memory: retained after GC (heap + external) ${mib(retainedBytes(report.memoryBefore))} → ${mib(retainedBytes(report.memoryAfter))} MiB (tolerance +${mib(RETAINED_TOLERANCE_BYTES)}), ` +
    `RSS ${mib(report.rssBefore)} → ${mib(report.rssAfter)} MiB (tolerance +${mib(RSS_TOLERANCE_BYTES)})`,
);
console.log(`server: ${report.alive ? 'alive' : 'EXITED'}, /healthz ${report.healthStatus}, ${report.serverErrors.length} error log lines`);
for (const line of report.serverErrors.slice(0, 5)) console.log(`  ${line.slice(0, 300)}`);
for (const [msg, n] of Object.entries(report.serverMessages).sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`  ${String(n).padStart(6)}× ${msg.slice(0, 120)}`);

const problems = campaignProblems(report, 1);
if (problems.length > 0) {
  console.error(`\nFAILED (replay with --seed ${fuzz.seed} --concurrency ${concurrency}):`);
  for (const p of problems) console.error(`- ${p}`);
  process.exit(1);
}
console.log('\nOK');
