/**
 * A real browser for the console's tests and benchmark: Debian's Chromium (`apt-get install chromium`,
 * which .ci/run does when it is missing) driven by playwright-core, which downloads no browser of its
 * own. Headless, no network of its own (no component updates, sync or QUIC probes), a fresh profile
 * per launch. Screenshots go to test-results/console/ (gitignored).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium; `TETHER_CHROMIUM` points elsewhere (another distribution's path). */
export const CHROMIUM = process.env['TETHER_CHROMIUM'] ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const;

export const SCREENSHOTS_DIR = fileURLToPath(new URL('../../../test-results/console/', import.meta.url));

export interface Browser {
  readonly context: BrowserContext;
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

export interface BrowserOptions {
  readonly viewport?: { readonly width: number; readonly height: number };
  /** Accept the cluster agent's self-signed certificate (the tests' and `tether dev`'s). */
  readonly ignoreHTTPSErrors?: boolean;
}

export async function launchBrowser(options: BrowserOptions = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (.ci/run does), or set TETHER_CHROMIUM to its path`);
  }
  // launchPersistentContext is how Playwright takes a --user-data-dir: a fresh one, removed at close.
  const profile = await mkdtemp(join(tmpdir(), 'tether-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS],
    viewport: options.viewport ?? { width: 1280, height: 860 },
    ignoreHTTPSErrors: options.ignoreHTTPSErrors ?? true,
    colorScheme: 'light',
  });
  return {
    context,
    newPage: () => context.newPage(),
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a screenshot as test-results/console/<name>.png; returns its path. */
export async function screenshot(page: Page, name: string, fullPage = false): Promise<string> {
  await mkdir(SCREENSHOTS_DIR, { recursive: true });
  const path = join(SCREENSHOTS_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage });
  return path;
}
