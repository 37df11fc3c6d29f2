import { readFile } from 'node:fs/promises';

const CLOCK_TICKS = 100;

/** CPU seconds (user + system) a live process has used, from /proc/PID/stat; null once it is gone. */
export async function cpuSeconds(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: count fields after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / CLOCK_TICKS : null;
  } catch {
    return null;
  }
}

/** CPU of this process and of another (a child), percent of one core each, from now to `read()`. */
export interface CpuMeter {
  read(): Promise<{ selfPercent: number | null; otherPercent: number | null }>;
}

export async function startCpuMeter(otherPid: number | undefined): Promise<CpuMeter> {
  const self = process.cpuUsage();
  const other = otherPid === undefined ? null : await cpuSeconds(otherPid);
  const at = Date.now();
  const percent = (seconds: number, elapsed: number) => Math.round((seconds / elapsed) * 1000) / 10;
  return {
    async read() {
      const elapsed = (Date.now() - at) / 1000;
      const used = process.cpuUsage(self);
      const otherNow = otherPid === undefined || other === null ? null : await cpuSeconds(otherPid);
      return {
        selfPercent: elapsed > 0 ? percent((used.user + used.system) / 1e6, elapsed) : null,
        otherPercent: otherNow !== null && other !== null && elapsed > 0 ? percent(otherNow - other, elapsed) : null,
      };
    },
  };
}
