// Debian's Chromium driven by playwright-core, one page per test file.
import path from 'node:path';

import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking'];

export interface FakeBridge {
  /** pushed as the helperStatus event and answered to helperStatus() */
  helperStatus: { state: string; reason?: string; hint?: string };
  /** every other call fails with this message */
  failCalls: string;
}

/** Stands in for the preload bridge (window.berth), for states a real helper cannot be put in on demand. */
function installFakeBridge(b: FakeBridge): void {
  (window as unknown as { berth: unknown }).berth = {
    call: async (method: string) => (method === 'helperStatus' ? { result: b.helperStatus } : { error: { code: 'unavailable', message: b.failCalls } }),
    subscribe: (event: string, l: (p: unknown) => void) => {
      if (event === 'helperStatus') queueMicrotask(() => l(b.helperStatus));
      return () => undefined;
    },
  };
}

export async function openApp(url: string, opts: { colorScheme?: 'light' | 'dark'; bridge?: FakeBridge } = {}): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true });
  const context = await browser.newContext({ viewport: { width: 1360, height: 860 }, colorScheme: opts.colorScheme ?? 'light', deviceScaleFactor: 1 });
  const page = await context.newPage();
  if (opts.bridge) await page.addInitScript(installFakeBridge, opts.bridge);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  (page as Page & { jsErrors?: string[] }).jsErrors = errors;
  await page.goto(url, { timeout: 30000 });
  await page.getByRole('navigation', { name: 'Main' }).waitFor({ timeout: 30000 });
  return { browser, page };
}

export function pageErrors(page: Page): string[] {
  return (page as Page & { jsErrors?: string[] }).jsErrors ?? [];
}

export async function shot(page: Page, dir: string, name: string): Promise<void> {
  await page.screenshot({ path: path.join(dir, `${name}.png`), animations: 'disabled' });
}

/** Clicks the visible terminal and waits until xterm's input has the focus, so typed keys reach the shell. */
export async function focusTerminal(page: Page): Promise<void> {
  await page.locator('[data-testid=terminal] .xterm').click();
  await page.waitForFunction(() => document.activeElement?.classList.contains('xterm-helper-textarea') === true && document.activeElement.closest('[data-testid=terminal]') !== null, undefined, { timeout: 10000 });
}
