import { useEffect, useMemo, useState, type FormEvent } from 'react';
import type { PeerStatus } from '../../../../shared/contract';
import { useApi } from '../../api/context';
import { useStore } from '../../store';
import { selectConnectionState, selectSharing } from '../../store/selectors';
import { SIZE_PRESETS, checkSize, describeFailure, parseBitrate, startBlocker, startablePeers } from './session-view';
import type { CaptureKind, CaptureSourcesInfo } from '../../../../shared/contract';
import { SOURCE_NAMES } from './use-capture-sources';
import { DEFAULT_TRANSPORT, TRANSPORT_NAMES, TRANSPORTS, type TransportName } from '../../../../shared/transports';

type SizeChoice = (typeof SIZE_PRESETS)[number]['id'] | 'custom';

/** The paired peers, read after every (re)connection and kept up to date by peers.changed. */
function usePeers(): PeerStatus[] | null {
  const api = useApi();
  const connected = useStore(selectConnectionState) === 'open';
  const notify = useStore((s) => s.notify);
  const [peers, setPeers] = useState<PeerStatus[] | null>(null);
  useEffect(() => {
    if (!connected) return;
    let live = true;
    api.call('peers.list').then(
      (list) => live && setPeers(list),
      (error: Error) => notify('error', `Could not list the paired peers: ${error.message}`),
    );
    const off = api.on('peers.changed', (list) => setPeers(list));
    return () => {
      live = false;
      off();
    };
  }, [api, notify, connected]);
  return peers;
}

/** Start a session to a paired peer: peer, size, frame rate, bitrate, codec, source. */
export function StartSessionForm({ sources }: { sources: CaptureSourcesInfo | null }) {
  const api = useApi();
  const connected = useStore(selectConnectionState) === 'open';
  const sharing = useStore(selectSharing);
  const notify = useStore((s) => s.notify);
  const peers = usePeers();
  const candidates = useMemo(() => startablePeers(peers ?? []), [peers]);
  const blocker = startBlocker(peers, sharing?.sharing ?? null);

  const [peer, setPeer] = useState('');
  const [size, setSize] = useState<SizeChoice>('1280x720');
  const [width, setWidth] = useState('1600');
  const [height, setHeight] = useState('900');
  const [fps, setFps] = useState(30);
  const [bitrate, setBitrate] = useState('');
  const [codec, setCodec] = useState<'h264' | 'hevc'>('h264');
  const [transport, setTransport] = useState<TransportName>(DEFAULT_TRANSPORT);
  const [source, setSource] = useState<'auto' | CaptureKind>('auto');
  const [audio, setAudio] = useState(true);
  const [starting, setStarting] = useState(false);
  const [error, setError] = useState<string | null>(null);

  // the chosen peer, or the first that can receive when the choice went away
  const chosen = candidates.find((p) => p.fingerprint === peer) ?? candidates[0] ?? null;
  const dims = size === 'custom' ? { width: Number(width), height: Number(height) } : SIZE_PRESETS.find((p) => p.id === size)!;
  const sizeError = size === 'custom' ? checkSize(dims.width, dims.height) : null;
  const parsedBitrate = parseBitrate(bitrate);
  const bitrateError = 'error' in parsedBitrate ? parsedBitrate.error : null;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!chosen || sizeError || 'error' in parsedBitrate) return;
    setStarting(true);
    setError(null);
    api
      .call('sessions.start', {
        peer: chosen.fingerprint,
        width: dims.width,
        height: dims.height,
        fps,
        codec,
        transport,
        audio: audio && TRANSPORTS[transport].audio,
        ...(parsedBitrate.kbps !== undefined ? { bitrateKbps: parsedBitrate.kbps } : {}),
        ...(source === 'auto' || source === 'x11' ? {} : { source: { kind: source } }),
      })
      .then(
        (session) => notify('info', `Session to ${chosen.name} started (${session.encoder} over ${session.transport}, ${session.width}×${session.height} at ${session.fps} fps).`),
        (failure: unknown) => setError(describeFailure(`Could not start a session to ${chosen.name}`, failure)),
      )
      .finally(() => setStarting(false));
  };

  const disabled = !connected || blocker !== null || starting;
  return (
    <form onSubmit={submit} className="start-session" aria-label="Start a session">
      {blocker ? (
        <p id="start-blocker" className="notice-inline" role="status">
          {blocker}
        </p>
      ) : null}
      <div className="form-row">
        <label>
          Peer
          <select value={chosen?.fingerprint ?? ''} onChange={(event) => setPeer(event.target.value)} disabled={candidates.length === 0}>
            {candidates.length === 0 ? <option value="">no peer online with view</option> : null}
            {candidates.map((p) => (
              <option key={p.fingerprint} value={p.fingerprint}>
                {p.name}
                {p.rttMs !== null ? ` (${p.rttMs.toFixed(0)} ms)` : ''}
              </option>
            ))}
          </select>
        </label>
        <label>
          Source
          <select value={source} onChange={(event) => setSource(event.target.value as 'auto' | CaptureKind)}>
            <option value="auto">Screen ({sources?.defaultSource ? SOURCE_NAMES[sources.defaultSource] : 'the host\'s best'})</option>
            {(sources?.sources ?? []).filter((s) => s.kind !== 'x11').map((s) => (
              <option key={s.kind} value={s.kind} disabled={!s.available} title={s.action ?? s.detail}>
                {SOURCE_NAMES[s.kind]}
                {s.available ? '' : ' (not here)'}
              </option>
            ))}
          </select>
        </label>
        <label>
          Size
          <select value={size} onChange={(event) => setSize(event.target.value as SizeChoice)}>
            {SIZE_PRESETS.map((p) => (
              <option key={p.id} value={p.id}>
                {p.width} × {p.height}
              </option>
            ))}
            <option value="custom">Custom…</option>
          </select>
        </label>
        {size === 'custom' ? (
          <>
            <label>
              Width
              <input type="number" inputMode="numeric" min={256} max={7680} step={2} value={width} onChange={(event) => setWidth(event.target.value)} aria-invalid={sizeError !== null} aria-describedby={sizeError ? 'size-error' : undefined} />
            </label>
            <label>
              Height
              <input type="number" inputMode="numeric" min={144} max={4320} step={2} value={height} onChange={(event) => setHeight(event.target.value)} aria-invalid={sizeError !== null} aria-describedby={sizeError ? 'size-error' : undefined} />
            </label>
          </>
        ) : null}
        <label>
          Frame rate
          <select value={fps} onChange={(event) => setFps(Number(event.target.value))}>
            <option value={30}>30 fps</option>
            <option value={60}>60 fps</option>
          </select>
        </label>
        <label>
          Bitrate (kbit/s, optional)
          <input
            type="number"
            inputMode="numeric"
            min={100}
            max={500000}
            placeholder="automatic"
            value={bitrate}
            onChange={(event) => setBitrate(event.target.value)}
            aria-invalid={bitrateError !== null}
            aria-describedby={bitrateError ? 'bitrate-error' : undefined}
          />
        </label>
        <label>
          Codec
          <select value={codec} onChange={(event) => setCodec(event.target.value as 'h264' | 'hevc')}>
            <option value="h264">H.264</option>
            <option value="hevc">HEVC (H.265)</option>
          </select>
        </label>
        <label title="RTP: the network's own latency, lost packets rebuilt by FEC or asked for again while they can still arrive in time, a keyframe otherwise. SRT: every packet repaired, with a buffer of about four round trips.">
          Transport
          <select value={transport} onChange={(event) => setTransport(event.target.value as TransportName)}>
            {TRANSPORT_NAMES.map((name) => (
              <option key={name} value={name}>
                {TRANSPORTS[name].choice}
              </option>
            ))}
          </select>
        </label>
        <label className="checkbox" title={TRANSPORTS[transport].audio ? 'The host\'s sound (what its default output plays), Opus encrypted with the picture (rtp: its own stream; srt: inside the same one), in step with it. A host with no sound server streams the picture alone and says why.' : `No sound: ${TRANSPORTS[transport].audioWhy}.`}>
          <input type="checkbox" checked={audio && TRANSPORTS[transport].audio} disabled={!TRANSPORTS[transport].audio} onChange={(event) => setAudio(event.target.checked)} />
          Audio
        </label>
        <button type="submit" disabled={disabled || sizeError !== null || bitrateError !== null} aria-describedby={blocker ? 'start-blocker' : undefined}>
          {starting ? 'Starting…' : 'Start session'}
        </button>
      </div>
      {sizeError ? (
        <p id="size-error" className="error-text">
          {sizeError}
        </p>
      ) : null}
      {bitrateError ? (
        <p id="bitrate-error" className="error-text">
          {bitrateError}
        </p>
      ) : null}
      {error ? (
        <p role="alert" className="error-text">
          {error}
        </p>
      ) : null}
    </form>
  );
}
