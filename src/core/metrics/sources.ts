import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { MetricValues } from '../../shared/contract/metrics';
import { killGroup, runCommand } from '../exec/run-command';
import { chooseQueryFields, parseHelpQueryGpu, QueryGpuCsvParser } from './nvidia-smi-csv';

export interface GpuReading {
  address: string;
  name: string | null;
  values: MetricValues;
}

/** Where samples come from. read() is called once per tick and must not spawn a process. */
export interface MetricsSource {
  readonly kind: 'nvml' | 'nvidia-smi' | 'sysfs' | 'custom' | 'replay';
  start?(periodMs: number): Promise<void> | void;
  read(): GpuReading[] | Promise<GpuReading[]>;
  close(): Promise<void> | void;
}

/**
 * One long-running `nvidia-smi --query-gpu=… --format=csv --loop-ms=N`, parsed as it streams; read()
 * returns the latest row per GPU. The field list is chosen from `--help-query-gpu` once at start.
 */
export class NvidiaSmiStreamSource implements MetricsSource {
  readonly kind = 'nvidia-smi' as const;
  private child: ChildProcess | null = null;
  private readonly latest = new Map<string, GpuReading>();
  private closed = false;

  constructor(private readonly exe: string) {}

  async start(periodMs: number): Promise<void> {
    if (this.closed) return;
    const help = await runCommand(this.exe, ['--help-query-gpu'], { timeoutMs: 10_000 });
    const fields = chooseQueryFields(help.code === 0 ? parseHelpQueryGpu(help.stdout) : null);
    this.stopChild();
    const parser = new QueryGpuCsvParser((row) => {
      if (row.address) this.latest.set(row.address, { address: row.address, name: row.name, values: row.values });
    });
    const child = spawn(this.exe, [`--query-gpu=${fields.join(',')}`, '--format=csv', `--loop-ms=${Math.max(100, Math.round(periodMs))}`], {
      stdio: ['ignore', 'pipe', 'ignore'],
      detached: true,
    });
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => parser.feed(chunk));
    child.on('error', () => {});
    this.child = child;
  }

  read(): GpuReading[] {
    return [...this.latest.values()];
  }

  private stopChild(): void {
    if (this.child && this.child.exitCode === null) killGroup(this.child.pid, 'SIGTERM');
    this.child = null;
  }

  close(): void {
    this.closed = true;
    this.stopChild();
  }
}

async function readNum(path: string): Promise<number | null> {
  try {
    const s = (await readFile(path, 'utf8')).trim();
    return /^-?\d+$/.test(s) ? Number(s) : null;
  } catch {
    return null;
  }
}

/** AMD GPUs through amdgpu's sysfs files and hwmon (no process, a few small reads per tick). */
export class AmdSysfsSource implements MetricsSource {
  readonly kind = 'sysfs' as const;
  constructor(
    private readonly addresses: string[],
    private readonly root = '/',
  ) {}

  async read(): Promise<GpuReading[]> {
    return Promise.all(
      this.addresses.map(async (address) => {
        const dir = join(this.root, 'sys', 'bus', 'pci', 'devices', address);
        let hwmon: string | null = null;
        try {
          const h = (await readdir(join(dir, 'hwmon')))[0];
          hwmon = h ? join(dir, 'hwmon', h) : null;
        } catch {
          hwmon = null;
        }
        const [busy, memBusy, used, total, temp, power, fan] = await Promise.all([
          readNum(join(dir, 'gpu_busy_percent')),
          readNum(join(dir, 'mem_busy_percent')),
          readNum(join(dir, 'mem_info_vram_used')),
          readNum(join(dir, 'mem_info_vram_total')),
          hwmon ? readNum(join(hwmon, 'temp1_input')) : null,
          hwmon ? ((await readNum(join(hwmon, 'power1_average'))) ?? (await readNum(join(hwmon, 'power1_input')))) : null,
          hwmon ? readNum(join(hwmon, 'pwm1')) : null,
        ]);
        return {
          address,
          name: null,
          values: {
            gpuUtilPercent: busy,
            memoryUtilPercent: memBusy,
            memoryUsedBytes: used,
            memoryTotalBytes: total,
            temperatureC: temp === null ? null : temp / 1000,
            powerW: power === null ? null : power / 1e6,
            fanPercent: fan === null ? null : Math.round((fan / 255) * 100),
          },
        };
      }),
    );
  }

  close(): void {}
}
