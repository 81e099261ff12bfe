/**
 * Console logins (issue 20): failed logins limited per client, in bytes as in attempts; sessions kept per
 * role, so viewers logging in again and again never end an admin's session.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CONSOLE_LOGIN_MAX_FAILURES, CONSOLE_LOGIN_WINDOW_MS } from '../../../src/config/limits.js';
import { createLoginLimiter } from '../../../src/console/loginLimiter.js';
import { createSessionStore } from '../../../src/console/sessions.js';
import { ADMIN, startConsoleUnderTest, VIEWER, type ConsoleUnderTest } from './harness.js';

describe('the login limiter (pure)', () => {
  test('a client may fail MAX times per window, then waits for the window to end; other clients are not affected', () => {
    let t = 0;
    const l = createLoginLimiter({ now: () => t });
    for (let i = 0; i < CONSOLE_LOGIN_MAX_FAILURES; i++) {
      assert.equal(l.blockedFor('10.0.0.1'), undefined, `attempt ${i + 1}`);
      l.failed('10.0.0.1');
    }
    assert.equal(l.blockedFor('10.0.0.1'), CONSOLE_LOGIN_WINDOW_MS);
    assert.equal(l.blockedFor('10.0.0.2'), undefined);
    t = CONSOLE_LOGIN_WINDOW_MS - 1;
    assert.equal(l.blockedFor('10.0.0.1'), 1);
    t = CONSOLE_LOGIN_WINDOW_MS;
    assert.equal(l.blockedFor('10.0.0.1'), undefined, 'a new window');
  });

  test('remembers at most maxClients (the oldest go first) and at most 64 characters of an address', () => {
    const l = createLoginLimiter({ now: () => 0, maxClients: 100, maxFailures: 1 });
    for (let i = 0; i < 10_000; i++) l.failed(`client-${i}-${'x'.repeat(1000)}`);
    assert.equal(l.size(), 100);
    assert.equal(l.blockedFor(`client-9999-${'x'.repeat(1000)}`), CONSOLE_LOGIN_WINDOW_MS);
    assert.equal(l.blockedFor(`client-0-${'x'.repeat(1000)}`), undefined, 'forgotten');
  });
});

describe('sessions per role', () => {
  test('viewers logging in past the limit end only viewer sessions, the oldest first', () => {
    let n = 0;
    const store = createSessionStore({ max: 3, newId: () => `s${n++}` });
    const admin = store.create('admin');
    const viewers = Array.from({ length: 10 }, () => store.create('viewer'));
    assert.ok(store.get(admin.id), "the admin's session lives");
    assert.equal(store.get(viewers[0]!.id), undefined, 'the oldest viewer session ended');
    assert.ok(store.get(viewers[9]!.id));
    assert.equal(store.size(), 4);
    store.end(admin.id);
    assert.equal(store.get(admin.id), undefined);
  });
});

describe('the login endpoint under many failed logins', () => {
  let t: ConsoleUnderTest;
  before(async () => {
    t = await startConsoleUnderTest();
  });
  after(() => t.close());

  test('after MAX failures from one client: 429 with Retry-After, even for the right token; the failures are not logged with the tokens', async () => {
    for (let i = 0; i < CONSOLE_LOGIN_MAX_FAILURES; i++) assert.equal((await t.login(`wrong-${i}-${'w'.repeat(40)}`)).res.status, 403, `attempt ${i + 1}`);
    for (const token of ['w'.repeat(40), ADMIN, VIEWER]) {
      const { res, cookie } = await t.login(token);
      assert.equal(res.status, 429);
      assert.match(res.headers.get('Retry-After') ?? '', /^[1-9][0-9]*$/);
      assert.equal(cookie, '', 'no session');
    }
    assert.ok(!JSON.stringify(t.log.lines()).includes('wrong-3-'), 'never a token in the logs');
    // The window ends (the console's clock): the right token logs in again.
    t.timers.advance(CONSOLE_LOGIN_WINDOW_MS);
    assert.equal((await t.login(ADMIN)).res.status, 200);
  });
});
