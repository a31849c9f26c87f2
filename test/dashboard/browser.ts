/**
 * Headless Chromium from Debian's package (scripts/install-deps.sh), driven by
 * playwright-core: no browser download, no network. Screenshots go to a temp dir, or to
 * docs/dashboard/ with BERTH_UPDATE_SCREENSHOTS=1 (how the committed ones were made).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoRoot } from '../helpers/tools.ts';

export const CHROMIUM = '/usr/bin/chromium';
/** Why the browser suites skip on this machine, or undefined when they can run. */
export const noBrowser = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing (apt-get install chromium; scripts/install-deps.sh does)`;

/** Generous: the machine is shared and slow; every wait is for an event, this only bounds it. */
export const UI_TIMEOUT_MS = 30_000;

export interface DashboardBrowser {
  browser: Browser;
  page: Page;
  /** Saves a PNG of the page (the whole page with `full`) as NAME.png; returns its path. */
  screenshot(name: string, full?: boolean): Promise<string>;
  close(): Promise<void>;
}

export async function openBrowser(): Promise<DashboardBrowser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    timeout: 60_000,
  });
  const context = await browser.newContext({ viewport: { width: 1180, height: 720 }, offline: false });
  const page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT_MS);
  const update = process.env.BERTH_UPDATE_SCREENSHOTS === '1';
  const dir = update ? join(repoRoot, 'docs', 'dashboard') : mkdtempSync(join(tmpdir(), `berth-dashboard-${process.pid}-`));
  mkdirSync(dir, { recursive: true });
  return {
    browser,
    page,
    async screenshot(name, full = false) {
      const path = join(dir, `${name}.png`);
      await page.screenshot({ path, fullPage: full });
      return path;
    },
    async close() {
      await browser.close();
      if (!update) rmSync(dir, { recursive: true, force: true });
    },
  };
}
