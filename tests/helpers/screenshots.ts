import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Locator, Page } from 'playwright-core';

/** Where the e2e tests leave a screenshot of every page they look at, for a reviewer to open (git-ignored). */
export const SCREENSHOT_DIR = resolve(__dirname, '../../test-results/screenshots');

/** A full-page screenshot (or of one element) as test-results/screenshots/<name>.png; returns its path. */
export async function screenshot(target: Page | Locator, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name.replace(/[^\w.-]+/g, '-')}.png`);
  if (!('goto' in target)) {
    await target.screenshot({ path });
    return path;
  }
  // the whole page in the viewport first: charts draw only while on screen (an IntersectionObserver)
  const size = target.viewportSize() ?? { width: 1280, height: 720 };
  const height = await target.evaluate(() => document.documentElement.scrollHeight);
  await target.setViewportSize({ width: size.width, height: Math.min(Math.max(height, size.height), 8000) });
  await target.waitForTimeout(600);
  await target.screenshot({ path, fullPage: true });
  await target.setViewportSize(size);
  return path;
}
