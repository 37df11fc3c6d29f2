// The baseline for bench/dashboard: the naive way to chart live metrics in React. The history lives in
// React state, every batch copies it and re-renders every card, and every chart gets freshly built full
// arrays through uPlot.setData. Same data, same charts and same uPlot as the real Dashboard page.
// Bundled for the browser by bench/dashboard.mjs; bench code only, never shipped.
import { useEffect, useRef, useState } from 'react';
import { createRoot } from 'react-dom/client';
import uPlot from 'uplot';

type Column = Array<number | null>;
interface History {
  t: number[];
  values: Record<string, Column>;
}
interface Sample {
  t: number;
  address: string;
  values: Record<string, number | null>;
}

const CAPACITY = 3600;
const WINDOW_S = 3600;
const CHARTS: Array<{ title: string; keys: string[]; colours: string[] }> = [
  { title: 'Utilization', keys: ['gpuUtilPercent', 'memoryUtilPercent'], colours: ['#1f6feb', '#8250df'] },
  { title: 'Memory used', keys: ['memoryUsedBytes'], colours: ['#bf8700'] },
  { title: 'Temperature and power', keys: ['temperatureC', 'powerW'], colours: ['#cf222e', '#1a7f37'] },
  { title: 'Encoder', keys: ['encoderUtilPercent', 'decoderUtilPercent', 'encoderSessions'], colours: ['#0969da', '#6e7781', '#d4a72c'] },
];

function NaiveChart({ title, data, keys, colours }: { title: string; data: uPlot.AlignedData; keys: string[]; colours: string[] }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const p = new uPlot(
      { title, width: Math.max(280, host.current!.clientWidth), height: 160, scales: { x: { time: true } }, series: [{}, ...keys.map((k, i) => ({ label: k, stroke: colours[i], width: 1.5 }))] },
      data,
      host.current!,
    );
    plot.current = p;
    return () => p.destroy();
  }, []);
  useEffect(() => plot.current?.setData(data), [data]);
  return <div ref={host} className="chart" />;
}

function Card({ address, history }: { address: string; history: History }) {
  const cutoff = (history.t[history.t.length - 1] ?? 0) - WINDOW_S * 1000;
  const start = history.t.findIndex((t) => t >= cutoff);
  const t = history.t.slice(start).map((ms) => ms / 1000);
  return (
    <section className="card">
      <h2>{address}</h2>
      <div className="charts">
        {CHARTS.map((c) => (
          <NaiveChart key={c.title} title={c.title} keys={c.keys} colours={c.colours} data={[t, ...c.keys.map((k) => (history.values[k] ?? []).slice(start))] as uPlot.AlignedData} />
        ))}
      </div>
    </section>
  );
}

function NaiveDashboard() {
  const [gpus, setGpus] = useState<Record<string, History>>({});
  useEffect(() => {
    const token = new URLSearchParams(location.search).get('token') ?? '';
    const ws = new WebSocket(`ws://${location.host}/ws?token=${encodeURIComponent(token)}`);
    ws.onopen = () => ws.send(JSON.stringify({ id: 1, method: 'metrics.history', params: { seconds: 3600 } }));
    ws.onmessage = (event) => {
      const message = JSON.parse(String(event.data));
      if (message.id === 1 && message.result) {
        const loaded: Record<string, History> = {};
        for (const s of message.result.series) loaded[s.address] = { t: s.t, values: s.values };
        setGpus(loaded);
      } else if (message.event === 'metrics.batch') {
        const samples: Sample[] = message.payload.samples;
        setGpus((previous) => {
          const next = { ...previous };
          for (const sample of samples) {
            const old = next[sample.address] ?? { t: [], values: {} };
            const values: Record<string, Column> = {};
            for (const key of new Set([...Object.keys(old.values), ...Object.keys(sample.values)])) {
              values[key] = [...(old.values[key] ?? new Array<number | null>(old.t.length).fill(null)), sample.values[key] ?? null].slice(-CAPACITY);
            }
            next[sample.address] = { t: [...old.t, sample.t].slice(-CAPACITY), values };
          }
          return next;
        });
      }
    };
    return () => ws.close();
  }, []);
  return (
    <main>
      {Object.entries(gpus).map(([address, history]) => (
        <Card key={address} address={address} history={history} />
      ))}
    </main>
  );
}

createRoot(document.getElementById('root')!).render(<NaiveDashboard />);
