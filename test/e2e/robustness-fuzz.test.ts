/**
 * `tether serve` under generated and corrupted AdmissionReviews (test/helpers/reviewFuzz.ts, the same
 * campaign as `npm run fuzz` at a small size): every answer is a well-formed review or a 4xx with a
 * message, the process survives, and its memory comes back to the baseline. Then the cases the fuzz
 * found, pinned.
 *
 * TETHER_FUZZ_RUNS and TETHER_FUZZ_SEED change the size and replay a seed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeCertificate, tempDir, writeCertificateFiles, type TempDir } from '../helpers/certs.js';
import { postJson } from '../helpers/https.js';
import { admissionReview, responseOf, samplePod } from '../helpers/reviews.js';
import { campaignProblems, mib, retainedBytes, runFuzzCampaign } from '../helpers/reviewFuzz.js';
import { startServe, type ServeProcess } from '../helpers/serveProcess.js';

const RUNS = Number(process.env.TETHER_FUZZ_RUNS ?? 600);
const SEED = process.env.TETHER_FUZZ_SEED !== undefined ? Number(process.env.TETHER_FUZZ_SEED) : undefined;

test(`fuzz: ${RUNS} generated and corrupted AdmissionReviews, each answered right; the server survives and its memory comes back`, { timeout: 90_000 }, async (t) => {
  const report = await runFuzzCampaign({ runs: RUNS, timeLimitMs: 20_000, concurrency: 4, warmupRuns: 100, ...(SEED !== undefined ? { seed: SEED } : {}), log: (l) => t.diagnostic(l) });
  const { fuzz } = report;
  t.diagnostic(`seed ${fuzz.seed}; per category: ${Object.entries(fuzz.byCategory).map(([c, s]) => `${c} ${JSON.stringify(s.statuses)}`).join('; ')}`);
  t.diagnostic(`retained after GC ${mib(retainedBytes(report.memoryBefore))} → ${mib(retainedBytes(report.memoryAfter))} MiB; RSS ${mib(report.rssBefore)} → ${mib(report.rssAfter)} MiB`);
  // The campaign exercised both kinds of answer (a generator that produced only garbage would pass otherwise).
  const statuses = new Set(Object.values(fuzz.byCategory).flatMap((s) => Object.keys(s.statuses)));
  assert.ok(statuses.has('200') && statuses.has('400'), `statuses seen: ${[...statuses].join(', ')}`);
  assert.ok((fuzz.byCategory.valid?.count ?? 0) > RUNS / 20, 'valid reviews were among the cases');
  assert.deepEqual(campaignProblems(report, Math.floor(RUNS * 0.75)), [], `replay with TETHER_FUZZ_SEED=${fuzz.seed}`);
  assert.deepEqual(report.serverErrors, [], 'the server logged unexpected errors');
});

describe('found by the fuzz', () => {
  let dir: TempDir;
  let ca: string;
  let s: ServeProcess;
  before(async () => {
    dir = await tempDir('tether-fuzz-found-');
    const cert = await makeCertificate();
    ca = cert.certPem;
    s = await startServe(await writeCertificateFiles(dir.path, cert));
  });
  after(async () => {
    await s?.kill();
    await dir?.remove();
  });

  const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
  const REVIEW = JSON.stringify(admissionReview({ object: samplePod() }));

  // The decoder's messages quote a wrong field with JSON.stringify, which overflows the stack on a value
  // nested some thousands deep: that was a 500 ("internal error"). It is a malformed review, a 400.
  for (const [field, from] of [
    ['apiVersion', '"apiVersion":"admission.k8s.io/v1"'],
    ['kind', '"kind":"AdmissionReview"'],
    ['request.uid', '"uid":"705ab4f5-6393-11e8-b7cc-42010a800002"'],
    ['request.kind.version', '"version":"v1"'],
  ] as const) {
    test(`${field} nested 100 000 deep → 400 with a message, not a 500`, async () => {
      const name = from.split(':')[0]!;
      const body = REVIEW.replace(from, () => `${name}:${nested(100_000)}`);
      assert.notEqual(body, REVIEW);
      const r = await postJson(`${s.url}/injectconfig`, body, { ca });
      assert.equal(r.status, 400, r.body.slice(0, 200));
      assert.match(r.body, /malformed AdmissionReview/);
    });
  }

  test('a pod with a field nested 100 000 deep is still answered (200, allowed)', async () => {
    const body = REVIEW.replace('"futureField":{"kept":true}', () => `"futureField":${nested(100_000)}`);
    const r = await postJson(`${s.url}/injectconfig`, body, { ca });
    assert.equal(r.status, 200, r.body.slice(0, 200));
    assert.equal(responseOf(r.body).allowed, true);
  });

  test('the server is still up', async () => {
    assert.ok(s.alive());
    assert.equal((await postJson(`${s.url}/injectconfig`, REVIEW, { ca })).status, 200);
  });
});
