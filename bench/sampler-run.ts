// bench/sampler: CPU time per sample for 8 GPUs through our sampler (NVML in-process, over the stub
// library; and the nvidia-smi stream parser) vs systeminformation.graphics() vs spawning
// `nvidia-smi --query-gpu` once per sample (a stand-in printing real capture data where there is no GPU).
// Run with `node bench/sampler.mjs`. Prints its figures, then one JSON line with the ratios.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import si from 'systeminformation';
import { MetricsSampler } from '../src/core/metrics/sampler';
import { QueryGpuCsvParser } from '../src/core/metrics/nvidia-smi-csv';
import { NvmlSource } from '../src/core/nvml/source';

const repo = process.env.BENCH_REPO ?? process.cwd();
const stub = process.env.BENCH_NVML_STUB ?? '';
const GPUS = 8;

/** CPU ms used by this process plus its waited-for children, from /proc/self/stat. */
function cpuMs(): number {
  const self = process.cpuUsage();
  let children = 0;
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
    const tick = 100; // USER_HZ
    children = ((Number(fields[13]) + Number(fields[14])) * 1000) / tick;
  } catch {
    children = 0;
  }
  return (self.user + self.system) / 1000 + children;
}

async function measure(label: string, n: number, fn: () => unknown): Promise<number> {
  await fn(); // warm
  const c0 = cpuMs();
  const w0 = performance.now();
  for (let i = 0; i < n; i += 1) await fn();
  const cpu = (cpuMs() - c0) / n;
  const wall = (performance.now() - w0) / n;
  console.log(`${label.padEnd(48)} ${cpu.toFixed(4).padStart(10)} ms CPU/sample  ${wall.toFixed(3).padStart(9)} ms wall  (n=${n})`);
  return cpu;
}

process.env.NVML_STUB_GPUS = String(GPUS);
const env = {
  ...process.env,
  FAKE_SMI_CAPTURE: join(repo, 'tests/fixtures/nvidia-smi-captures/linux-x86_64__nvidia-l40s__595.80.txt'),
  FAKE_SMI_CSV: join(repo, 'tests/fixtures/nvidia-smi-csv/utkuozdemir__linux-x86_64__nvidia-l40s__595.80.load-query-gpu.csv'),
  FAKE_SMI_GPUS: String(GPUS),
};
const fakeSmi = join(repo, 'bench/sampler-fake-nvidia-smi.mjs');

const source = NvmlSource.open(stub);
if (!source) throw new Error(`cannot load the NVML stub at ${stub}`);
const sampler = new MetricsSampler({ source, onBatch: () => {} });
const ours = await measure(`ours: NVML in-process sampler, ${GPUS} GPUs`, 20_000, () => sampler.tick());
await sampler.stop();

// The nvidia-smi stream path: parsing one -lms tick of 8 rows in-process (the nvidia-smi process itself
// is one long-running process, not one per sample).
const fields = ['pci.bus_id', 'name', 'utilization.gpu', 'utilization.memory', 'utilization.encoder', 'utilization.decoder', 'memory.used', 'memory.total', 'temperature.gpu', 'power.draw', 'enforced.power.limit', 'clocks.current.graphics', 'clocks.current.memory', 'fan.speed', 'encoder.stats.sessionCount'];
const tick = spawnSync('node', [fakeSmi, `--query-gpu=${fields.join(',')}`, '--format=csv'], { env, encoding: 'utf8' }).stdout.split('\n').slice(1).join('\n');
const streamSampler = new MetricsSampler({ source: null, onBatch: () => {} });
const parser = new QueryGpuCsvParser((row) => row.address && streamSampler.record(Date.now(), [{ address: row.address, name: row.name, values: row.values }]), fields);
const oursStream = await measure(`ours: nvidia-smi stream parse + record, ${GPUS} GPUs`, 20_000, () => parser.feed(tick));

const siCpu = await measure('systeminformation.graphics()', 20, () => si.graphics());
const spawnCpu = await measure(`spawn nvidia-smi --query-gpu per sample (stand-in)`, 20, () =>
  spawnSync('node', [fakeSmi, `--query-gpu=${fields.join(',')}`, '--format=csv'], { env, encoding: 'utf8' }),
);

const coreShareAt1Hz = (ours / 1000) * 100;
console.log(`ours at 1 Hz: ${coreShareAt1Hz.toFixed(5)} % of one core (goal < 0.1 %)`);
console.log(
  JSON.stringify({
    bench: 'sampler',
    gpus: GPUS,
    oursCpuMsPerSample: Number(ours.toFixed(5)),
    oursStreamCpuMsPerSample: Number(oursStream.toFixed(5)),
    systeminformationCpuMsPerSample: Number(siCpu.toFixed(3)),
    spawnNvidiaSmiCpuMsPerSample: Number(spawnCpu.toFixed(3)),
    ratioSysteminformationOverOurs: Number((siCpu / ours).toFixed(1)),
    ratioSpawnOverOurs: Number((spawnCpu / ours).toFixed(1)),
    oursPercentOfCoreAt1Hz: Number(coreShareAt1Hz.toFixed(5)),
    goal100xMet: siCpu / ours >= 100,
    goalUnder0_1PercentMet: coreShareAt1Hz < 0.1,
  }),
);
