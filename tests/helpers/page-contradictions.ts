import type { Page } from 'playwright-core';

/** What the host recorded or reports (through the API, or a snapshot's own files): what the page must not contradict. */
export interface HostFacts {
  /** A recorded host (`serve --from`): what its snapshot did not record must not read as absent. */
  snapshot: boolean;
  notRecorded: ReadonlyArray<'nvidia' | 'ffmpeg'>;
  /** GPUs as the host knows them: a name and memory the page must show where known. */
  gpus: ReadonlyArray<{ address: string; name: string | null; memoryTotalBytes: number | null; driver: string | null }>;
  sharing: boolean;
  /** Sessions streaming now, with the frame rate their viewer receives. */
  streaming: ReadonlyArray<{ id: string; fpsReceived: number }>;
}

interface PageView {
  text: string;
  headings: string[];
  charts: Array<{ name: string; legend: string; note: string | null; axisLabels: string[] }>;
  killSwitch: Array<{ enabled: boolean }>;
  facts: Array<{ term: string; value: string; card: string }>;
  firstFrames: Array<{ card: string; text: string }>;
}

/** What the page shows, read once from the DOM. */
async function readView(page: Page): Promise<PageView> {
  return page.evaluate(() => {
    const main = document.querySelector('main') ?? document.body;
    const charts = Array.from(main.querySelectorAll('.chart-frame')).map((frame) => {
      const note = frame.querySelector('.chart-note') as HTMLElement | null;
      return {
        name: frame.querySelector('[role="img"]')?.getAttribute('aria-label') ?? '',
        legend: frame.querySelector('.u-legend')?.textContent ?? '',
        note: note && !note.hidden ? note.textContent : null,
        // uPlot draws its axes on the canvas: the chart says their units in data-units
        axisLabels: (frame.querySelector('[role="img"]')?.getAttribute('data-units') ?? '').split(' ').filter(Boolean),
      };
    });
    const facts = Array.from(main.querySelectorAll('dl.facts dt')).map((dt) => ({
      term: dt.textContent?.trim() ?? '',
      value: dt.nextElementSibling?.textContent?.trim() ?? '',
      card: dt.closest('section')?.querySelector('h2, h3')?.textContent?.trim() ?? '',
    }));
    return {
      text: main.textContent ?? '',
      headings: Array.from(main.querySelectorAll('h2, h3')).map((h) => h.textContent?.trim() ?? ''),
      charts,
      killSwitch: Array.from(main.querySelectorAll('button')).filter((b) => b.textContent?.trim() === 'Stop all sharing').map((b) => ({ enabled: !b.disabled })),
      facts,
      firstFrames: Array.from(main.querySelectorAll('[data-field="first-frame"]')).map((dd) => ({ card: dd.closest('section')?.getAttribute('aria-label') ?? '', text: dd.textContent ?? '' })),
    };
  });
}

/**
 * Every place the page states something the host's facts contradict, in words ([] when none): what a
 * snapshot did not record said to be missing, a GPU named generically or its memory a dash although the
 * host knows them, a kill switch offered while nothing is shared, "not yet" on a streaming session, a
 * chart that is an empty frame with no word on why, a legend of dashes before any hover.
 */
export async function pageContradictions(page: Page, facts: HostFacts): Promise<string[]> {
  const view = await readView(page);
  const found: string[] = [];
  const has = (pattern: RegExp) => pattern.test(view.text);
  if (facts.notRecorded.includes('nvidia') && has(/no NVIDIA driver found/)) found.push('says "no NVIDIA driver found" where the snapshot did not record nvidia-smi');
  if (facts.notRecorded.includes('ffmpeg') && has(/ffmpeg is not installed/)) found.push('says "ffmpeg is not installed" where the snapshot did not record ffmpeg');
  if (facts.snapshot && has(/\(not readable\)/)) found.push('says a file of the recorded host was "not readable" where the snapshot did not record it');
  if (facts.snapshot && has(/apt install|install it \(/)) found.push('advises installing something on the machine serving a recorded host');
  if (facts.gpus.some((g) => g.driver === 'nvidia') && has(/no NVIDIA driver found/)) found.push('says "no NVIDIA driver found" while a GPU is bound to the nvidia driver');
  for (const gpu of facts.gpus) {
    if (gpu.name && view.headings.some((h) => /^(nvidia|amd|intel|other) GPU\b/.test(h) && (h.includes(gpu.address) || facts.gpus.length === 1))) {
      found.push(`names ${gpu.address} generically although the host knows it as ${gpu.name}`);
    }
    if (gpu.memoryTotalBytes !== null && view.facts.some((f) => f.term === 'Memory' && f.value === '—' && (f.card.includes(gpu.address) || f.card === gpu.name))) {
      found.push(`shows no memory for ${gpu.address} although the host knows ${gpu.memoryTotalBytes} bytes`);
    }
  }
  if (!facts.sharing && facts.streaming.length === 0 && view.killSwitch.some((k) => k.enabled)) found.push('offers "Stop all sharing" while nothing is shared');
  for (const ff of view.firstFrames) {
    const session = facts.streaming.find((s) => ff.card.includes(s.id.slice(0, 8)));
    if (session && session.fpsReceived > 0 && /not yet/.test(ff.text)) found.push(`says the first frame is "not yet" on ${ff.card}, streaming at ${session.fpsReceived} fps`);
  }
  for (const chart of view.charts) {
    // uPlot's "no value" is "--" (the colon is CSS: the text reads "Time--")
    if (/(^|[^-])--([^-]|$)/.test(chart.legend)) found.push(`${chart.name}: its legend reads "--" until hovered`);
    if (chart.axisLabels.length === 0) found.push(`${chart.name}: no unit on its value axis`);
    const figures = chart.legend.replace(/^Time.*?latest/, '');
    if (!/\d/.test(figures) && chart.note === null) found.push(`${chart.name}: an empty chart that does not say why`);
  }
  return found;
}

type Call = (method: string, params?: unknown) => Promise<unknown>;

/** The host's facts through the API the page itself uses (app.info, inventory.get, sharing.get, sessions.list). */
export async function hostFacts(call: Call): Promise<HostFacts> {
  const info = (await call('app.info', {})) as { snapshot: unknown; capabilities: { notRecorded: HostFacts['notRecorded'] } };
  const inventory = (await call('inventory.get', {})) as { gpus: HostFacts['gpus'] };
  const sharing = (await call('sharing.get', {})) as { sharing: boolean };
  const sessions = (await call('sessions.list', {})) as Array<{ id: string; state: string; last: { fpsReceived: number } | null }>;
  return {
    snapshot: info.snapshot !== null,
    notRecorded: info.capabilities.notRecorded,
    gpus: inventory.gpus.map((g) => ({ address: g.address, name: g.name, memoryTotalBytes: g.memoryTotalBytes, driver: g.driver })),
    sharing: sharing.sharing,
    streaming: sessions.filter((s) => s.state === 'running' || s.state === 'starting' || s.state === 'restarting').map((s) => ({ id: s.id, fpsReceived: s.last?.fpsReceived ?? 0 })),
  };
}
