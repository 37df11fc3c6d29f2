import { useEffect, useState, type FormEvent } from 'react';
import type { CaptureKind, CaptureSourcesInfo, SelftestResult } from '../../../../shared/contract';
import { useApi } from '../../api/context';
import { useStore } from '../../store';
import { selectConnectionState, selectInfo, selectSelftest } from '../../store/selectors';
import { runSelftest } from './run-selftest';
import { formatKbps, formatMs } from './session-view';
import { SOURCE_NAMES } from './use-capture-sources';
import { capabilities, DEFAULT_TRANSPORT, TRANSPORT_NAMES, type TransportName } from '../../../../shared/transports';

const SIZES = ['640x360', '1280x720', '1920x1080'] as const;
const FPS = [30, 60] as const;
const SECONDS = 5;

/** Seconds since `since`, ticking while `running` (only this panel re-renders). */
function useElapsed(running: boolean, since: number | null): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, [running]);
  return running && since !== null ? Math.max(0, (now - since) / 1000) : 0;
}

function Figures({ result }: { result: SelftestResult }) {
  const rows: Array<[string, string, string]> = [
    ['p50Ms', 'Latency p50', formatMs(result.p50Ms)],
    ['p95Ms', 'Latency p95', formatMs(result.p95Ms)],
    ['p99Ms', 'Latency p99', formatMs(result.p99Ms)],
    ['fpsReceived', 'Frames per second received', `${result.fpsReceived} of ${result.fps}`],
    ['framesSent', 'Frames sent', String(result.framesSent)],
    ['framesDecoded', 'Frames decoded', String(result.framesDecoded)],
    ['encoder', 'Encoder', result.fallbackReason ? `${result.encoder} (fell back: ${result.fallbackReason})` : result.encoder],
    ['cpuPercent', 'Encoder CPU', result.cpuPercent === null ? '—' : `${Math.round(result.cpuPercent)} % of one core`],
    ['startMs', 'Start to first decoded frame', formatMs(result.startMs)],
    ['source', 'Source', SOURCE_NAMES[result.source]],
    ['transport', 'Transport', capabilities(result.transport).figures.includes('fecRecovered') ? `${result.transport.toUpperCase()}: ${result.fecRecovered} packets rebuilt by FEC, ${result.nackRecovered} resent on NACK, ${result.framesLost} frames lost` : result.transport.toUpperCase()],
    ['framesIntact', 'Frames intact (readable stamp)', String(result.framesIntact)],
    ['run', 'Run', `${result.size} at ${result.fps} fps for ${result.seconds} s, ${formatKbps(result.bitrateKbps)}${result.restarts > 0 ? `, ${result.restarts} encoder restarts` : ''}`],
  ];
  return (
    <dl className="facts" aria-label="Self-test result">
      {rows.map(([key, label, value]) => (
        <div key={key} className="fact">
          <dt>{label}</dt>
          <dd data-figure={key}>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** "How fast is this machine?": the real pipeline to a local peer process on loopback (sessions.selftest). */
export function SelftestPanel({ sources }: { sources: CaptureSourcesInfo | null }) {
  const api = useApi();
  const connected = useStore(selectConnectionState) === 'open';
  const selftest = useStore(selectSelftest);
  // a recorded host (serve --from) has no encoder to measure: the test would be refused
  const recorded = useStore(selectInfo)?.snapshot ?? null;
  const [size, setSize] = useState<(typeof SIZES)[number]>('1280x720');
  const [fps, setFps] = useState<number>(30);
  const [transport, setTransport] = useState<TransportName>(DEFAULT_TRANSPORT);
  const [source, setSource] = useState<CaptureKind>('test');
  const elapsed = useElapsed(selftest.running, selftest.startedAt);

  const start = (event: FormEvent) => {
    event.preventDefault();
    const [width, height] = size.split('x').map(Number) as [number, number];
    runSelftest(api, { width, height, fps, seconds: SECONDS, transport, source });
  };

  const running = selftest.request;
  return (
    <form onSubmit={start} className="selftest" aria-describedby="selftest-about">
      <p id="selftest-about" className="hint">
        Streams a stamped test pattern (or the screen, from a capture source that works here) through this machine&apos;s real encoder and encrypted RTP (or SRT) to a local peer process for {SECONDS} seconds, and
        measures capture-to-decode latency frame by frame.
      </p>
      <div className="form-row">
        <label>
          Size
          <select value={size} onChange={(event) => setSize(event.target.value as (typeof SIZES)[number])} disabled={selftest.running}>
            {SIZES.map((s) => (
              <option key={s} value={s}>
                {s.replace('x', ' × ')}
              </option>
            ))}
          </select>
        </label>
        <label>
          Frame rate
          <select value={fps} onChange={(event) => setFps(Number(event.target.value))} disabled={selftest.running}>
            {FPS.map((f) => (
              <option key={f} value={f}>
                {f} fps
              </option>
            ))}
          </select>
        </label>
        <label>
          Source
          <select value={source} onChange={(event) => setSource(event.target.value as CaptureKind)} disabled={selftest.running}>
            <option value="test">{SOURCE_NAMES.test}</option>
            {(sources?.sources ?? []).filter((s) => s.kind !== 'test' && s.available).map((s) => (
              <option key={s.kind} value={s.kind}>
                {SOURCE_NAMES[s.kind]}
              </option>
            ))}
          </select>
        </label>
        <label>
          Transport
          <select value={transport} onChange={(event) => setTransport(event.target.value as TransportName)} disabled={selftest.running}>
            {TRANSPORT_NAMES.map((name) => (
              <option key={name} value={name}>
                {name.toUpperCase()}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={!connected || selftest.running || recorded !== null} aria-describedby={selftest.running ? 'selftest-progress' : recorded ? 'selftest-recorded' : undefined}>
          {selftest.running ? 'Testing…' : 'Run self-test'}
        </button>
      </div>
      {recorded ? (
        <p id="selftest-recorded" className="hint">
          Not on a recorded host: this is a snapshot of {recorded.host}; run the self-test with GPU Bridge on that host.
        </p>
      ) : null}
      {selftest.running && running ? (
        <p id="selftest-progress" role="status" aria-busy="true">
          <progress max={SECONDS + 2} value={Math.min(elapsed, SECONDS + 2)} aria-label="Self-test progress" /> Testing {running.width} × {running.height} at {running.fps} fps:{' '}
          {Math.floor(elapsed)} s of about {SECONDS + 2} s…
        </p>
      ) : null}
      {selftest.error ? (
        <p role="alert" className="error-text">
          {selftest.error}
        </p>
      ) : null}
      {selftest.result && !selftest.running ? (
        <div aria-live="polite">
          {selftest.result.ok ? null : (
            <p role="alert" className="error-text">
              The self-test ran but did not complete: {selftest.result.reason ?? 'no frame was decoded'}. Try a smaller size or a lower frame rate; the figures below are what was measured.
            </p>
          )}
          <Figures result={selftest.result} />
        </div>
      ) : null}
    </form>
  );
}
