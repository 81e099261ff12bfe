// The process helpers every part of the dev and test cluster is started with (etcd and the API
// server today; containerd and a kubelet next), on plain shell processes: no Kubernetes binaries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessGroup, StartError, waitUntil } from '../../../src/devcluster/processes.js';

const sh = '/bin/sh';

test('a process group stops its processes last started first, then removes its directory', async () => {
  const group = await ProcessGroup.create('tether-unit-pg-');
  // Outside the group's directory, which stop() removes.
  const out = await mkdtemp(join(tmpdir(), 'tether-unit-order-'));
  const order = join(out, 'order');
  try {
    // Each one says it is up, then appends its name to `order` when it is told to stop (and not before).
    const member = (name: string) =>
      group.start(name, sh, ['-c', `trap 'echo ${name} >> "$0"; exit 0' TERM; echo up; while :; do sleep 0.05; done`, order]);
    const procs = [member('first'), member('second')];
    assert.deepEqual(group.processes.map((p) => p.name), ['first', 'second']);
    for (const p of procs) await waitUntil(`${p.name} up`, p, 10_000, async () => readFileSync(p.logPath, 'utf8').includes('up'));
    await group.stop(5000);
    assert.equal(readFileSync(order, 'utf8'), 'second\nfirst\n');
    assert.equal(existsSync(group.dir), false);
    await group.stop(); // a second stop() is harmless
    assert.throws(() => group.start('late', sh, ['-c', 'sleep 10']), /stopped/);
  } finally {
    await group.stop();
    await rm(out, { recursive: true, force: true });
  }
});

test("a process that dies while it is waited for fails the wait at once, with the tail of its log", async () => {
  const group = await ProcessGroup.create('tether-unit-pg-');
  try {
    const p = group.start('broken', sh, ['-c', 'echo "listen tcp: address already in use" >&2; exit 3']);
    const t0 = Date.now();
    await assert.rejects(
      waitUntil('its port', p, 30_000, async () => false),
      (e: unknown) => {
        assert.ok(e instanceof StartError);
        assert.match(e.message, /broken exited \(3\) while waiting for its port/);
        assert.match(e.message, /address already in use/);
        return true;
      },
    );
    assert.ok(Date.now() - t0 < 10_000, 'did not wait for the timeout');
  } finally {
    await group.stop();
  }
});

test('a process that ignores SIGTERM is killed after the grace period', async () => {
  const group = await ProcessGroup.create('tether-unit-pg-');
  const p = group.start('stubborn', sh, ['-c', "trap '' TERM; echo up; while :; do sleep 0.05; done"]);
  // Started unref'd (a cluster must not keep its test alive); this test waits for its exit.
  p.child.ref();
  await waitUntil('stubborn up', p, 10_000, async () => readFileSync(p.logPath, 'utf8').includes('up'));
  await group.stop(300);
  assert.equal(p.child.signalCode, 'SIGKILL');
});
