/**
 * The webhook server's metrics count on the review path in plain numbers and hand them to prom-client
 * later: whatever the batching, a scrape must show every review, in the right series and buckets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServerMetrics } from '../../../src/server/index.js';

/** The value of one sample line of the exposition, by its name and labels as written. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  assert.ok(line, `no ${series} in:\n${text}`);
  return Number(line.slice(series.length + 1));
}

test('a scrape shows every observation, before and after a batch is handed over', async () => {
  const m = createServerMetrics(['config', 'lib']);
  let text = await m.registry.metrics();
  assert.equal(sample(text, 'tether_admission_requests_total{webhook="lib",outcome="mutated"}'), 0);
  assert.equal(sample(text, 'tether_admission_mutations_total{webhook="lib"}'), 0);

  // 1300 reviews: two full batches handed over on the review path, the rest at the scrape.
  for (let i = 0; i < 1300; i++) {
    m.observeRequest('lib', i % 10 === 0 ? 'error' : 'mutated', i % 2 === 0 ? 0.0002 : 0.003);
    m.addMutations('lib', 2);
  }
  m.observeRequest('config', 'skipped', 0.02);
  text = await m.registry.metrics();
  assert.equal(sample(text, 'tether_admission_requests_total{webhook="lib",outcome="mutated"}'), 1170);
  assert.equal(sample(text, 'tether_admission_requests_total{webhook="lib",outcome="error"}'), 130);
  assert.equal(sample(text, 'tether_admission_requests_total{webhook="config",outcome="skipped"}'), 1);
  assert.equal(sample(text, 'tether_admission_mutations_total{webhook="lib"}'), 2600);
  assert.equal(sample(text, 'tether_admission_request_duration_seconds_count{webhook="lib"}'), 1300);
  assert.equal(sample(text, 'tether_admission_request_duration_seconds_bucket{le="0.00025",webhook="lib"}'), 650);
  assert.equal(sample(text, 'tether_admission_request_duration_seconds_bucket{le="0.005",webhook="lib"}'), 1300);
  assert.ok(Math.abs(sample(text, 'tether_admission_request_duration_seconds_sum{webhook="lib"}') - 650 * 0.0032) < 1e-9);
  assert.equal(sample(text, 'tether_admission_request_duration_seconds_bucket{le="0.025",webhook="config"}'), 1);

  // A second scrape adds nothing twice.
  m.observeRequest('lib', 'mutated', 0.0002);
  text = await m.registry.metrics();
  assert.equal(sample(text, 'tether_admission_requests_total{webhook="lib",outcome="mutated"}'), 1171);
  assert.equal(sample(text, 'tether_admission_request_duration_seconds_count{webhook="lib"}'), 1301);
  assert.equal(sample(text, 'tether_admission_mutations_total{webhook="lib"}'), 2600);
});
