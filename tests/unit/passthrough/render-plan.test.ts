// What `gpu-bridge passthrough plan` prints for the corpus's Arc host: the card's own switch, why each
// device moves, and the functions that stay with the host.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderPlan } from '../../../src/cli/commands/passthrough';
import { computePlan } from '../../../src/core/passthrough/plan';
import { listingRoot } from './fixture-host';

const ARC_HOST = 'Sean-Mitchell-HomeLab__granite-ridge-chipset__arc-a310-arc-pro-b50-aspeed.txt';
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('passthrough plan, as printed', () => {
  it('the A310: its switch, its audio behind it, no blocker', async () => {
    const root = await mkdtemp(join(tmpdir(), 'gb-render-'));
    dirs.push(root);
    await listingRoot(ARC_HOST, root);
    const text = renderPlan(await computePlan(root, '0000:09:00.0'));
    expect(text).toBe(
      [
        '0000:09:00.0: can be passed through',
        "the card's own PCIe switch: 0000:07:00.0 (its functions behind it are the card's)",
        'moves to vfio-pci:',
        '  0000:09:00.0  gpu     i915  the GPU',
        "  0000:0a:00.0  audio   snd_hda_intel  in IOMMU group 17 with the GPU (behind the card's own switch 0000:07:00.0)",
        '',
      ].join('\n'),
    );
    const apu = renderPlan(await computePlan(root, '0000:12:00.0'));
    expect(apu).toMatch(/stays with the host, never offered:\n {2}0000:12:00\.2 {2}crypto {2}the platform security processor \(AMD PSP\/CCP/);
    const aspeed = renderPlan(await computePlan(root, '0000:0c:00.0'));
    expect(aspeed).toMatch(/warning BMC_CONSOLE: 0000:0c:00\.0 is ASPEED AST graphics, the server board's management controller \(BMC\) display.*\n {6}\/sys\/bus\/pci\/devices\/0000:0c:00\.0\/vendor: 0x1a03\n {6}\/sys\/bus\/pci\/devices\/0000:0c:00\.0\/device: 0x2000/);
  });
});
