import { useEffect, useRef, useState } from 'react';
import { useApi } from '../api/context';
import { Section } from '../components/Section';
import { hostKeyName } from '../watch/key-names';
import { WatchClient, type WatchFigures, type WatchTarget } from '../watch/watch-client';

/** `#/watch?session=ID` joins a session; `#/watch?start=1280x720@60` (`&kbps=N`) starts one with this browser as its viewer. */
export function watchTargetFromHash(hash: string): WatchTarget | null {
  const query = new URLSearchParams(hash.split('?')[1] ?? '');
  const session = query.get('session');
  if (session && /^[0-9a-f-]{36}$/.test(session)) return { sessionId: session };
  const start = /^(\d{3,4})x(\d{3,4})@(\d{1,3})$/.exec(query.get('start') ?? '');
  const kbps = Number(query.get('kbps'));
  if (start) return { start: { width: Number(start[1]), height: Number(start[2]), fps: Number(start[3]), ...(Number.isInteger(kbps) && kbps >= 100 ? { bitrateKbps: kbps } : {}) } };
  return null;
}

declare global {
  interface Window {
    /** The page's viewer, for the end-to-end tests to read its figures. */
    gpuBridgeWatch?: WatchClient;
  }
}

/** `guest`: opened through a view link, which watches what the owner shares (no target in the address needed). */
export function WatchPage({ guest = false }: { guest?: boolean }) {
  const api = useApi();
  const video = useRef<HTMLVideoElement>(null);
  const frame = useRef<HTMLDivElement>(null);
  const [figures, setFigures] = useState<WatchFigures | null>(null);
  const [size, setSize] = useState<{ width: number; height: number; input: boolean } | null>(null);
  const [control, setControl] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [target] = useState<WatchTarget | null>(() => watchTargetFromHash(window.location.hash) ?? (guest ? { shared: true } : null));
  const client = useRef<WatchClient | null>(null);

  useEffect(() => {
    if (!target || !video.current) return;
    const watch = new WatchClient(api, video.current, (f) => setFigures({ ...f }));
    client.current = watch;
    window.gpuBridgeWatch = watch;
    watch.start(target).then(
      (offer) => setSize({ width: offer.width, height: offer.height, input: offer.input }),
      (e: unknown) => setError((e as Error).message),
    );
    return () => watch.end('left the Watch page');
  }, [api, target]);

  const send = (event: Parameters<WatchClient['sendInput']>[0]) => {
    if (control) client.current?.sendInput(event);
  };
  const pointer = (e: React.PointerEvent<HTMLVideoElement>) => {
    if (!size) return;
    const box = e.currentTarget.getBoundingClientRect();
    // the video element shows the picture and the stamp strip below it; only the picture is on screen (the frame clips the strip)
    const scale = size.width / box.width;
    send({ kind: 'mouse.move', x: Math.max(0, Math.min(size.width - 1, Math.round((e.clientX - box.left) * scale))), y: Math.max(0, Math.min(size.height - 1, Math.round((e.clientY - box.top) * scale))) });
  };
  const button = (e: React.PointerEvent, down: boolean) => send({ kind: 'mouse.button', button: e.button === 2 ? 'right' : e.button === 1 ? 'middle' : 'left', down });
  const key = (e: React.KeyboardEvent, down: boolean) => {
    const name = hostKeyName(e);
    if (!control || !name) return;
    e.preventDefault();
    send({ kind: 'key', key: name, down });
  };

  if (!target) {
    return (
      <Section title="Watch">
        <p>Open a session&apos;s picture from the Sessions page (each live session has a Watch link), or start one here: <a href="#/watch?start=1280x720@60">1280×720 at 60 fps</a>.</p>
      </Section>
    );
  }
  return (
    <Section title="Picture">
      {error && <p role="alert">Could not watch: {error}</p>}
      <div
        ref={frame}
        className="watch-frame"
        tabIndex={0}
        aria-label="Live picture"
        style={size ? { aspectRatio: `${size.width} / ${size.height}` } : undefined}
        onKeyDown={(e) => key(e, true)}
        onKeyUp={(e) => key(e, false)}
      >
        <video
          ref={video}
          muted
          playsInline
          autoPlay
          onPointerMove={pointer}
          onPointerDown={(e) => button(e, true)}
          onPointerUp={(e) => button(e, false)}
          onWheel={(e) => send({ kind: 'mouse.wheel', dx: Math.sign(e.deltaX), dy: Math.sign(e.deltaY) })}
          onContextMenu={(e) => control && e.preventDefault()}
        />
        <div className="watch-overlay" data-testid="watch-overlay" aria-live="off">
          {figures?.state === 'playing' ? `${figures.fps} fps · ${figures.latencyMs === null ? 'latency —' : `${figures.latencyMs} ms capture to glass`}` : figures?.state === 'ended' ? `ended: ${figures.error ?? ''}` : 'connecting…'}
        </div>
      </div>
      <p className="watch-controls">
        <button type="button" onClick={() => void frame.current?.requestFullscreen()}>Full screen</button>{' '}
        {size?.input ? (
          <label>
            <input type="checkbox" checked={control} onChange={(e) => { setControl(e.target.checked); frame.current?.focus(); }} /> Send keyboard and mouse
          </label>
        ) : (
          size && <span>View only: this link does not grant input.</span>
        )}
        {figures?.inputAllowed === false && <span role="status"> Input refused: {figures.inputReason}</span>}
      </p>
    </Section>
  );
}
