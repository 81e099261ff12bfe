/**
 * The README's troubleshooting table, generated from the checks themselves (name, what it finds, the
 * fix), so that the documentation and the tool cannot drift: `npm run docs` rewrites the part of the
 * README between the markers, and a unit test fails when it is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Check } from './check.js';

export const DOCS_START = '<!-- diagnose-checks:start -->';
export const DOCS_END = '<!-- diagnose-checks:end -->';

/** A table cell: one line, pipes escaped. */
const cell = (s: string): string => s.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|').trim();

export function checksMarkdown(checks: readonly Check[]): string {
  const header = ['| check | what it finds | the fix |', '|---|---|---|'];
  const rows = checks.map((c) => `| \`${c.name}\` | ${cell(c.finds)} | ${cell(c.fixes)} |`);
  return [...header, ...rows].join('\n');
}

/** `readme` with the text between the markers replaced by the table; throws when a marker is missing. */
export function withChecksTable(readme: string, checks: readonly Check[]): string {
  const start = readme.indexOf(DOCS_START);
  const end = readme.indexOf(DOCS_END);
  if (start < 0 || end < start) throw new Error(`README: the markers ${DOCS_START} ... ${DOCS_END} are missing or out of order`);
  return `${readme.slice(0, start + DOCS_START.length)}\n${checksMarkdown(checks)}\n${readme.slice(end)}`;
}

/** The README at the package root (dist/src/diagnose/docs.js → ../../../README.md). */
export const README_PATH = fileURLToPath(new URL('../../../README.md', import.meta.url));

async function main(): Promise<void> {
  const { CHECKS } = await import('./checks/index.js');
  const before = readFileSync(README_PATH, 'utf8');
  const after = withChecksTable(before, CHECKS);
  if (after !== before) writeFileSync(README_PATH, after);
  process.stdout.write(`${README_PATH}: ${after === before ? 'up to date' : 'updated'} (${CHECKS.length} checks)\n`);
}

// Run as a script (`npm run docs`), not when imported by the test.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
