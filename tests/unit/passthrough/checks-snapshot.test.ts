import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runChecks } from '../../../src/core/passthrough/checks';

const EXAMPLES = resolve(__dirname, '../../../resources/snapshots');
const byId = (checks: Awaited<ReturnType<typeof runChecks>>['checks']) => Object.fromEntries(checks.map((c) => [c.id, c]));

describe('host checks of a served snapshot: what it did not record is not said to be absent', () => {
  it('the L40S example (a PCI tree only): the IOMMU and vfio checks unknown, "not recorded in this snapshot", no remedy', async () => {
    const checks = byId((await runChecks(join(EXAMPLES, 'l40s-nvenc'), undefined, { snapshot: true })).checks);
    for (const id of ['cpu-virtualization', 'firmware-iommu', 'kernel-iommu', 'vfio-modules', 'iommu-pt', 'acs-override']) {
      expect(checks[id]).toMatchObject({ status: 'unknown', remedy: null });
      expect(checks[id]!.evidence.some((e) => e.value === '(not recorded in this snapshot)')).toBe(true);
    }
  });

  it('the B550 example: its IOMMU groups and IVRS table recorded (pass), its modules not (unknown, not "absent")', async () => {
    const checks = byId((await runChecks(join(EXAMPLES, 'b550-rtx2070super-gt710'), undefined, { snapshot: true })).checks);
    expect(checks['firmware-iommu']!.status).toBe('pass');
    expect(checks['kernel-iommu']!.status).not.toBe('fail');
    expect(checks['vfio-modules']).toMatchObject({ status: 'unknown', evidence: [{ file: '/sys/module', value: '(not recorded in this snapshot)' }] });
  });

  it('the same tree read as a host (GPU_BRIDGE_HOST_ROOT, tests): a missing file is absent', async () => {
    const checks = byId((await runChecks(join(EXAMPLES, 'l40s-nvenc'))).checks);
    expect(checks['kernel-iommu']!.status).toBe('fail');
    expect(checks['vfio-modules']!.status).toBe('warn');
  });
});
