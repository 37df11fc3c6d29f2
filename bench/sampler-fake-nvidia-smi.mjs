#!/usr/bin/env node
// A stand-in for nvidia-smi on machines without a GPU: answers --help-query-gpu from a real capture and
// --query-gpu=… [--loop-ms=N] with rows built from a real --query-gpu CSV capture (fields looked up by name).
// Env: FAKE_SMI_CAPTURE (capture .txt with a help-query-gpu section), FAKE_SMI_CSV (header + one row),
// FAKE_SMI_GPUS (how many GPUs to report, default 1; bus ids 0000:0N:00.0).
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
if (args.includes('--help-query-gpu')) {
  const text = readFileSync(process.env.FAKE_SMI_CAPTURE ?? '', 'utf8');
  const start = text.indexOf('List of valid properties to query for the switch "--query-gpu"');
  const end = text.indexOf('\n####', start);
  process.stdout.write(start < 0 ? '' : text.slice(start, end < 0 ? undefined : end));
  process.exit(start < 0 ? 1 : 0);
}
const query = args.find((a) => a.startsWith('--query-gpu='));
if (!query) {
  process.stderr.write('fake nvidia-smi: only --help-query-gpu and --query-gpu are supported\n');
  process.exit(2);
}
const fields = query.slice('--query-gpu='.length).split(',');
const [headerLine, rowLine] = readFileSync(process.env.FAKE_SMI_CSV ?? '', 'utf8').split('\n');
const headers = headerLine.split(',').map((h) => h.trim());
const cells = rowLine.split(',').map((c) => c.trim());
const byField = new Map();
headers.forEach((h, i) => byField.set(h.replace(/\s*\[.*\]$/, ''), { header: h, value: cells[i] }));
const unknown = fields.filter((f) => !byField.has(f));
if (unknown.length) {
  process.stdout.write(`Field "${unknown[0]}" is not a valid field to query.\n\n`);
  process.exit(2);
}
const gpus = Number(process.env.FAKE_SMI_GPUS ?? 1);
const loop = args.find((a) => a.startsWith('-lms=') || a.startsWith('--loop-ms='));
const period = loop ? Number(loop.split('=')[1]) : 0;
process.stdout.write(`${fields.map((f) => byField.get(f).header).join(', ')}\n`);
const emit = () => {
  let out = '';
  for (let g = 0; g < gpus; g += 1) {
    out += `${fields.map((f) => (f === 'pci.bus_id' ? `00000000:${(g + 1).toString(16).padStart(2, '0').toUpperCase()}:00.0` : byField.get(f).value)).join(', ')}\n`;
  }
  process.stdout.write(out);
};
emit();
if (period > 0) setInterval(emit, period);
