import { useState } from 'react';
import type { SessionInfo } from '../../../../shared/contract';
import { useApi } from '../../api/context';
import { LiveFigure } from '../../components/LiveFigure';
import { sessionLive, viewerSeriesId } from '../../metrics/session-live';
import { useStore } from '../../store';
import { ViewerCharts } from './SessionCharts';
import { SessionThumbnail } from './SessionThumbnail';
import { describeFailure, firstFrameText, formatKbps, formatMs, isLive, stateLabel } from './session-view';
import { TRANSPORTS } from '../../../../shared/transports';

const clock = (t: number) => new Date(t).toLocaleTimeString();

/** One session: its state and settings, Stop, bitrate steps, and each viewer's live charts. */
export function SessionCard({ session }: { session: SessionInfo }) {
  const api = useApi();
  const notify = useStore((s) => s.notify);
  const [stopping, setStopping] = useState(false);
  const title = `Session ${session.id.slice(0, 8)} to ${session.viewers.join(', ') || 'no viewer'}`;
  const firstViewer = session.viewers[0];

  const stop = () => {
    setStopping(true);
    api
      .call('sessions.stop', { id: session.id })
      .catch((error: unknown) => notify('error', describeFailure(`Could not stop ${title}`, error)))
      .finally(() => setStopping(false));
  };

  return (
    <section className="card session-card" aria-label={title}>
      <div className="card-head">
        <h3>{title}</h3>
        <SessionThumbnail session={session} />
        {isLive(session) ? (
          <button type="button" className="danger" onClick={stop} disabled={stopping} aria-label={`Stop ${title}`}>
            {stopping ? 'Stopping…' : 'Stop'}
          </button>
        ) : null}
      </div>
      <dl className="facts">
        <dt>State</dt>
        <dd data-field="state">
          <span className={`badge state-${session.state}`}>{stateLabel(session)}</span>
          {session.reason ? <span className={session.state === 'failed' ? 'error-text' : 'hint'}> {session.reason}</span> : null}
        </dd>
        <dt>Viewers</dt>
        <dd>{session.viewers.length > 0 ? session.viewers.join(', ') : '—'}</dd>
        <dt>Source</dt>
        <dd>
          {session.source}, {session.width} × {session.height} at {session.fps} fps
        </dd>
        <dt>Encoder</dt>
        <dd>
          <code>{session.encoder}</code> <span className="hint">{session.encoderReason.replace(new RegExp(`^${session.encoder}\\s*`), '')}</span>
          {session.fallbackReason ? <div className="error-text">Fell back to software: {session.fallbackReason}</div> : null}
        </dd>
        <dt>Transport</dt>
        <dd data-field="transport">
          {TRANSPORTS[session.transport].summary}
        </dd>
        {session.audio ? (
          <>
            <dt>Sound</dt>
            <dd data-field="audio">
              {session.audio.on ? `the host's output, Opus 48 kHz stereo in 10 ms frames with in-band FEC, ${session.transport === 'srt' ? 'inside the stream\'s encrypted SRT connection' : 'its own encrypted RTP stream'}` : <span className="hint">none: {session.audio.why}</span>}
              {session.audio.on
                ? (session.audio.notHeard ?? []).map((note) => (
                    <div key={note.viewer} className="hint" data-field="audio-not-heard">
                      not heard at {note.viewer}: {note.why}
                    </div>
                  ))
                : null}
            </dd>
          </>
        ) : null}
        <dt>Bitrate</dt>
        <dd>
          actual{' '}
          {firstViewer ? (
            <LiveFigure live={sessionLive} address={viewerSeriesId(session.id, firstViewer)} figure="bitrateKbps" format={formatKbps} initial={session.last?.bitrateKbps ?? null} />
          ) : (
            '—'
          )}{' '}
          · target {formatKbps(session.targetKbps)} (requested {formatKbps(session.requestedKbps)})
        </dd>
        <dt>Restarts</dt>
        <dd>{session.restarts}</dd>
        <dt>First frame</dt>
        <dd data-field="first-frame">{firstFrameText(session, formatMs)}</dd>
        <dt>Started</dt>
        <dd>{new Date(session.startedAt).toLocaleTimeString()}</dd>
      </dl>
      {session.bitrateSteps.length > 0 ? (
        <details>
          <summary>Bitrate steps ({session.bitrateSteps.length})</summary>
          <ul className="steps">
            {session.bitrateSteps.map((step) => (
              <li key={`${step.t}-${step.to}`}>
                {clock(step.t)}: {formatKbps(step.from)} → {formatKbps(step.to)} — {step.reason}
              </li>
            ))}
          </ul>
        </details>
      ) : null}
      {session.viewers.map((viewer) => (
        <section key={viewer} aria-label={`${viewer} live figures`}>
          {session.viewers.length > 1 ? <h4>{viewer}</h4> : null}
          <ViewerCharts sessionId={session.id} viewer={viewer} transport={session.transport} audio={Boolean(session.audio?.on)} />
        </section>
      ))}
    </section>
  );
}
