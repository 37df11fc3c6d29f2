import { describe, expect, it } from 'vitest';
import type { AppInfo, Capabilities } from '../../../src/shared/contract';
import { captureFact, ffmpegMissing, noIommuGroupText, nvidiaFact } from '../../../src/renderer/src/host-facts';

const caps = (over: Partial<Capabilities> = {}): Capabilities => ({
  nvidiaSmi: false, nvml: false, ffmpeg: false, ffmpegVersion: null, ffmpegEncoders: [], xDisplay: null, pkexec: false, qemu: false, libvirt: false, notRecorded: [], ...over,
});
const info = (capabilities: Capabilities, snapshot = false): AppInfo => ({
  name: 'gpu-bridge', version: '0.1.0', hostname: 'h', shell: 'web', platform: 'linux', arch: 'x64', pid: 1, startedAt: '2026-01-01T00:00:00Z', capabilities,
  snapshot: snapshot ? { host: 'NVIDIA L40S cloud server', takenAt: '2026-07-03T08:33:38Z', source: null } : null,
});

describe('This host: what a snapshot did not record is not said to be missing', () => {
  it('a snapshot without the tools\' outputs: NVIDIA and ffmpeg "not recorded", never "no driver found" or "not installed"', () => {
    const recorded = info(caps({ notRecorded: ['nvidia', 'ffmpeg'] }), true);
    expect(nvidiaFact(recorded)).toBe('not recorded in this snapshot');
    expect(ffmpegMissing(recorded)).toMatch(/not recorded in this snapshot/);
    expect(ffmpegMissing(recorded)).not.toMatch(/install/);
  });

  it('a snapshot whose tools ran: the recorded host had none, said of the recorded host (no advice to install here)', () => {
    const recorded = info(caps(), true);
    expect(nvidiaFact(recorded)).toMatch(/recorded host/);
    expect(ffmpegMissing(recorded)).toBe('ffmpeg was not installed on the recorded host.');
    expect(nvidiaFact(info(caps({ nvidiaSmi: true }), true))).toBe('nvidia-smi output recorded');
  });

  it('a live host: found or not found, and how to install ffmpeg', () => {
    expect(nvidiaFact(info(caps()))).toBe('no NVIDIA driver found');
    expect(nvidiaFact(info(caps({ nvml: true })))).toBe('NVML loads in-process');
    expect(ffmpegMissing(info(caps()))).toMatch(/apt install ffmpeg/);
    expect(ffmpegMissing(info(caps({ ffmpeg: true })))).toBeNull();
  });

  it('capture: a recorded host\'s desktop is not on record; a live host\'s failure is said, not "reading…" for ever', () => {
    expect(captureFact(info(caps(), true), 'REFUSED')).toBe('not recorded in this snapshot');
    expect(captureFact(info(caps()), 'timed out')).toBe('could not read the capture sources: timed out');
    expect(captureFact(info(caps()), null)).toBeNull();
  });
});

describe('GPUs: a GPU without an IOMMU group', () => {
  it('on a recorded host: off there, or not in the snapshot (never "on this host", which is the machine serving it)', () => {
    expect(noIommuGroupText(info(caps(), true))).toMatch(/^No IOMMU group in this snapshot: .*recorded host.*did not record it/);
    expect(noIommuGroupText(info(caps()))).toBe('No IOMMU group: the IOMMU is off or not exposed on this host.');
  });
});
