import type { AppInfo } from '../../shared/contract';

/**
 * What the host's facts say, in words: a recorded host's snapshot may hold no output of a tool at all
 * (it was made without running them), which is "not recorded", never "not installed" or "not found".
 */
export const NOT_RECORDED = 'not recorded in this snapshot';

/** The "NVIDIA" fact of This host. */
export function nvidiaFact(info: AppInfo): string {
  const caps = info.capabilities;
  if (caps.nvml) return 'NVML loads in-process';
  if (caps.nvidiaSmi) return info.snapshot ? 'nvidia-smi output recorded' : 'nvidia-smi found (no NVML)';
  if (caps.notRecorded.includes('nvidia')) return NOT_RECORDED;
  return info.snapshot ? 'no NVIDIA driver on the recorded host (no nvidia-smi output)' : 'no NVIDIA driver found';
}

/** Why there is no list of ffmpeg's encoders, or null when there is one. */
export function ffmpegMissing(info: AppInfo): string | null {
  const caps = info.capabilities;
  if (caps.ffmpeg) return null;
  if (caps.notRecorded.includes('ffmpeg')) return `ffmpeg's encoders: ${NOT_RECORDED}.`;
  return info.snapshot ? 'ffmpeg was not installed on the recorded host.' : 'ffmpeg is not installed: install it (Debian: apt install ffmpeg) to stream.';
}

/** The "Capture" fact while the capture sources cannot be read (a recorded host has no desktop session on record). */
export function captureFact(info: AppInfo, error: string | null): string | null {
  if (info.snapshot) return NOT_RECORDED;
  if (error) return `could not read the capture sources: ${error}`;
  return null;
}

/** Why a GPU has no IOMMU group: off on a live host; on a recorded one, off there or not in the snapshot. */
export function noIommuGroupText(info: AppInfo | null): string {
  return info?.snapshot
    ? 'No IOMMU group in this snapshot: the IOMMU was off on the recorded host, or the snapshot did not record it.'
    : 'No IOMMU group: the IOMMU is off or not exposed on this host.';
}
