/** `tether image lib` refuses what it cannot build before any registry is asked: exit 2, the reason on stderr, nothing on stdout. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cleanEnv, TETHER_MAIN } from '../helpers/tether.js';

const run = (args: string[]) =>
  promisify(execFile)(process.execPath, [TETHER_MAIN, 'image', 'lib', ...args], { env: cleanEnv(), timeout: 30_000 }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );

test('a language tether builds no image for, a registry that is not one, a version argument that could be a flag or a command', async () => {
  const cases: [string[], RegExp][] = [
    [['ruby', '1.0.0'], /no init image for ruby: tether builds js, python, java/],
    [['js', '5.132.0', '--registry', 'Bad Registry'], /--registry "Bad Registry" is not a registry/],
    [['js', '5.x;id'], /"5\.x;id" is not a dd-trace version or range/],
    [['python', '--', '-rf'], /"-rf" is not a ddtrace version or range/],
  ];
  for (const [args, message] of cases) {
    const r = await run(args);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, message, args.join(' '));
    assert.equal(r.stdout, '', args.join(' '));
  }
});
