import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { chromiumPath, launchChromium } from '../helpers/browser';
import { pageContradictions, type HostFacts } from '../helpers/page-contradictions';

const haveChromium = chromiumPath() !== null;
if (!haveChromium) console.log('SKIP e2e/page-contradictions: Chromium not found (apt-get install chromium, or set CHROMIUM_PATH)');

const L40S: HostFacts = {
  snapshot: true,
  notRecorded: ['nvidia', 'ffmpeg'],
  gpus: [{ address: '0000:01:00.0', name: 'NVIDIA L40S', memoryTotalBytes: 48305799168, driver: 'nvidia' }],
  sharing: false,
  streaming: [],
};

describe.skipIf(!haveChromium)('the page review finds what issue 20 found by eye (pages as they were)', () => {
  let browser: Browser;
  let page: Page;
  beforeAll(async () => {
    browser = await launchChromium();
    page = await browser.newPage();
  });
  afterAll(async () => browser?.close());

  it('the L40S example as it read: generic name, no memory, "no NVIDIA driver found", "ffmpeg is not installed", a kill switch with nothing shared', async () => {
    await page.setContent(`<main>
      <section><h2>nvidia GPU 0000:01:00.0</h2><dl class="facts"><dt>Memory</dt><dd>—</dd></dl></section>
      <section><h2>This host</h2><dl class="facts"><dt>NVIDIA</dt><dd>no NVIDIA driver found</dd></dl></section>
      <p>ffmpeg is not installed: install it (Debian: apt install ffmpeg) to stream.</p>
      <button>Stop all sharing</button></main>`);
    const found = await pageContradictions(page, L40S);
    expect(found).toEqual(expect.arrayContaining([
      expect.stringMatching(/no NVIDIA driver found.*did not record/),
      expect.stringMatching(/ffmpeg is not installed.*did not record/),
      expect.stringMatching(/advises installing/),
      expect.stringMatching(/while a GPU is bound to the nvidia driver/),
      expect.stringMatching(/names 0000:01:00.0 generically.*NVIDIA L40S/),
      expect.stringMatching(/shows no memory for 0000:01:00.0/),
      expect.stringMatching(/offers "Stop all sharing" while nothing is shared/),
    ]));
  });

  it('a live session as it read: "not yet" at 30 fps, a chart without units, a legend of dashes, an empty frame that says nothing', async () => {
    await page.setContent(`<main><section aria-label="Session 1234abcd to vm"><dl class="facts"><dt>First frame</dt><dd data-field="first-frame">not yet</dd></dl>
      <div class="chart-frame"><div role="img" aria-label="Round-trip time chart for vm"><table class="u-legend"><tr><th>Time</th><td>--</td></tr><tr><th>RTT</th><td>—</td></tr></table></div><p class="chart-note" hidden></p></div>
      </section><button disabled>Stop all sharing</button></main>`);
    const found = await pageContradictions(page, { ...L40S, snapshot: false, notRecorded: [], gpus: [], sharing: true, streaming: [{ id: '1234abcd-0000', fpsReceived: 30 }] });
    expect(found).toEqual([
      'says the first frame is "not yet" on Session 1234abcd to vm, streaming at 30 fps',
      'Round-trip time chart for vm: its legend reads "--" until hovered',
      'Round-trip time chart for vm: no unit on its value axis',
      'Round-trip time chart for vm: an empty chart that does not say why',
    ]);
  });

  it('the same pages as they read now: nothing found', async () => {
    await page.setContent(`<main>
      <section><h2>NVIDIA L40S</h2><dl class="facts"><dt>Memory</dt><dd>45.0 GiB</dd></dl></section>
      <section><h2>This host</h2><dl class="facts"><dt>NVIDIA</dt><dd>not recorded in this snapshot</dd></dl></section>
      <p>ffmpeg's encoders: not recorded in this snapshot.</p>
      <div class="chart-frame"><div role="img" aria-label="Loss and repair chart for vm" data-units="per second"><table class="u-legend"><tr><th>Time</th><td>latest</td></tr><tr><th>Packets lost</th><td>0 /s</td></tr></table></div><p class="chart-note">No packet lost in this window: a clean link, nothing to repair.</p></div>
      <button disabled>Stop all sharing</button></main>`);
    expect(await pageContradictions(page, L40S)).toEqual([]);
  });
});
