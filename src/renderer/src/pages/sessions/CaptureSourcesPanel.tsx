import { useEffect, useState } from 'react';
import type { CaptureSourcesInfo } from '../../../../shared/contract';
import { useApi } from '../../api/context';
import { UnattendedGnomeToggle } from './UnattendedGnomeToggle';
import { SOURCE_NAMES } from './use-capture-sources';

/** Says while the host's screen-share dialog is open, so the owner knows where to look. */
export function ApprovalBanner() {
  const api = useApi();
  const [waiting, setWaiting] = useState<{ source: string; peer: string } | null>(null);
  useEffect(() => api.on('sessions.approval', (payload) => setWaiting(payload.waiting ? payload : null)), [api]);
  if (!waiting) return null;
  return (
    <p className="notice-inline" role="status">
      Approve the screen share on the workstation: its dialog is open for the session to {waiting.peer}.
    </p>
  );
}

/** Which capture sources work here, why the others do not and what to do; the unattended GNOME switch. */
export function CaptureSourcesPanel({ sources, error, reload }: { sources: CaptureSourcesInfo | null; error: string | null; reload: () => void }) {
  if (error) return <p className="error-text">Could not read the capture sources: {error}</p>;
  if (!sources) return <p aria-busy="true">Reading the capture sources…</p>;
  const gnomeOnBus = sources.sources.some((s) => s.kind === 'gnome' && (s.available || /unattended sharing is off/.test(s.detail)));
  return (
    <>
      {sources.recordedHost ? (
        <p>A recorded host ({sources.recordedHost}): its desktop session is not in the snapshot, so no capture source can be judged here.</p>
      ) : (
        <p>
          This is {sources.sessionType === 'none' ? 'no desktop session' : `a ${sources.sessionType === 'wayland' ? 'Wayland' : 'X11'} session`}
          {sources.desktop ? ` (${sources.desktop})` : ''}; sessions capture {sources.defaultSource ? SOURCE_NAMES[sources.defaultSource] : 'nothing'} unless you choose.
        </p>
      )}
      <table className="capture-sources">
        <thead>
          <tr>
            <th scope="col">Source</th>
            <th scope="col">Here</th>
            <th scope="col">What to do</th>
          </tr>
        </thead>
        <tbody>
          {sources.sources.map((source) => (
            <tr key={source.kind}>
              <th scope="row">{SOURCE_NAMES[source.kind]}</th>
              <td>
                {source.available ? 'works: ' : 'not here: '}
                {source.detail}
              </td>
              <td>{source.action ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {gnomeOnBus ? <UnattendedGnomeToggle onChanged={reload} /> : null}
    </>
  );
}
