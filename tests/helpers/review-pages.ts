import type { Page } from 'playwright-core';
import { hostFacts, pageContradictions } from './page-contradictions';
import { screenshot } from './screenshots';

type Call = (method: string, params?: unknown) => Promise<unknown>;

export const PAGE_IDS = ['dashboard', 'gpus', 'passthrough', 'sessions', 'peers', 'settings'] as const;

/** Waits until the page has read what it reads (no "Reading…" left), then a moment for charts to draw. */
export async function settle(page: Page, timeout = 20_000): Promise<void> {
  await page.waitForFunction(() => document.querySelectorAll('main [aria-busy="true"]').length === 0, undefined, { timeout }).catch(() => undefined);
  await page.waitForTimeout(1500);
}

/**
 * Opens one page from the navigation, lets it settle, leaves a screenshot as
 * test-results/screenshots/<prefix>-<page>.png and returns what on it contradicts the host's facts.
 */
export async function reviewPage(page: Page, call: Call, prefix: string, id: (typeof PAGE_IDS)[number]): Promise<string[]> {
  await page.evaluate((target) => {
    location.hash = `#/${target}`;
  }, id);
  await settle(page);
  await screenshot(page, `${prefix}-${id}`);
  return (await pageContradictions(page, await hostFacts(call))).map((line) => `${id}: ${line}`);
}

/** Every page in turn (reviewPage); [] when none contradicts the host. */
export async function reviewEveryPage(page: Page, call: Call, prefix: string): Promise<string[]> {
  const found: string[] = [];
  for (const id of PAGE_IDS) found.push(...(await reviewPage(page, call, prefix, id)));
  return found;
}
