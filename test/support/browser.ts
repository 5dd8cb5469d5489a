import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import type { TestApp } from './app.js';

/**
 * Browser tests drive the system's Chromium (Debian's `chromium` package) through playwright-core:
 * no browser download. Where none is found they are skipped with the install command, except
 * under CI=true, where a missing browser fails the run.
 */
export const INSTALL_HINT = 'apt-get install -y chromium';

export function chromiumPath(): string | null {
  // CHROMIUM_PATH, when set, is the only candidate: a wrong path is reported, not worked around.
  const candidates = process.env.CHROMIUM_PATH ? [process.env.CHROMIUM_PATH] : ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((p) => existsSync(p)) ?? null;
}

/** `describe` when a Chromium is found; otherwise skipped (reported), or failing under CI=true. */
export function describeInBrowser(name: string, body: () => void): void {
  if (chromiumPath()) {
    describe(name, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs Chromium (CI=true)', () => {
        throw new Error(`No Chromium at ${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'} under CI=true: ${INSTALL_HINT}`);
      });
    });
    return;
  }
  const why = `no Chromium at ${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'} (install: ${INSTALL_HINT}, or set CHROMIUM_PATH)`;
  console.warn(`The console's browser tests are skipped: ${why}`);
  describe.skip(`${name} — skipped: ${why}`, body);
}

const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A headless Chromium with a fresh profile (its own --user-data-dir, removed on close). */
export async function launchBrowser(): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'ccx-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath()!,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 900 },
    timezoneId: 'Europe/Paris', // not UTC: the console must label and show UTC itself
    acceptDownloads: true,
  });
  context.setDefaultTimeout(15_000);
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Makes the test app listen on 127.0.0.1 (the kernel picks the port); its base URL. */
export async function listenForBrowser(t: TestApp): Promise<string> {
  const server = t.app.getHttpServer();
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${server.address().port}`;
}

const failureDir = join(tmpdir(), 'ccx-console-failures');

/**
 * Runs one journey in a new page. On failure the page is saved as a screenshot in a temp folder,
 * whose path is printed and added to the error. With CCX_CONSOLE_SCREENSHOTS=<folder> the page is
 * also saved there at the end (the README's screenshots: docs/console).
 */
export async function journey(browser: Browser, name: string, run: (page: Page) => Promise<void>): Promise<void> {
  const page = await browser.context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  try {
    await run(page);
    if (problems.length) throw new Error(problems.join('\n'));
    const docs = process.env.CCX_CONSOLE_SCREENSHOTS;
    if (docs) {
      await mkdir(docs, { recursive: true });
      await page.screenshot({ path: join(docs, `${name}.png`), fullPage: false });
    }
  } catch (error) {
    await mkdir(failureDir, { recursive: true });
    const shot = join(failureDir, `${name}-${Date.now()}.png`);
    await page.screenshot({ path: shot, fullPage: true }).catch(() => undefined);
    console.error(`console journey "${name}" failed; screenshot: ${shot}`);
    if (error instanceof Error) error.message = `${error.message}\n(screenshot: ${shot})${problems.length ? `\n${problems.join('\n')}` : ''}`;
    throw error;
  } finally {
    await page.close();
  }
}

/** Signs in through the form, as a user would. */
export async function signIn(page: Page, base: string, key: string): Promise<void> {
  await page.goto(base);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/**
 * Polls until `check` holds for what `probe` reads (the page updates asynchronously); on timeout
 * fails with what it saw last. Jest's expect has no web-first assertions; these are them.
 */
export async function eventually<T>(probe: () => Promise<T>, check: (value: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await probe();
      if (check(last)) return last;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last)}${lastError ? ` (${String(lastError)})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const textOf = async (locator: Locator) => ((await locator.first().textContent({ timeout: 1_000 })) ?? '').replace(/\s+/g, ' ').trim();

/** The (first) element's whole text is `expected`, or matches it. */
export const expectText = (locator: Locator, expected: string | RegExp) =>
  eventually(() => textOf(locator), (s) => (typeof expected === 'string' ? s === expected : expected.test(s)), `text ${expected} in ${locator}`);

/** The (first) element's text contains `expected`. */
export const expectContains = (locator: Locator, expected: string) =>
  eventually(() => textOf(locator), (s) => s.includes(expected), `"${expected}" in ${locator}`);

export const expectCount = (locator: Locator, count: number) => eventually(() => locator.count(), (n) => n === count, `${count} of ${locator}`);

export const expectVisible = (locator: Locator) => locator.first().waitFor({ state: 'visible' });

/** A table by its caption. */
export const tableCaptioned = (page: Page, caption: string | RegExp) => page.locator('table').filter({ has: page.locator('caption', { hasText: caption }) });
