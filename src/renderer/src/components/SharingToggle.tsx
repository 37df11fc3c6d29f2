import { useId } from 'react';
import { useApi } from '../api/context';
import { useStore } from '../store';
import { nothingShared, selectConnectionState, selectSessions, selectSharing } from '../store/selectors';

/** Share on/off, and the kill switch that stops every session and all remote input at once. */
export function SharingToggle() {
  const api = useApi();
  const sharing = useStore(selectSharing);
  const connected = useStore(selectConnectionState) === 'open';
  const notify = useStore((s) => s.notify);
  const setSharing = useStore((s) => s.setSharing);
  const hintId = useId();
  const idle = nothingShared(sharing, useStore(selectSessions));
  const fail = (what: string) => (error: Error) => notify('error', `${what}: ${error.message}`);
  return (
    <div className="sharing">
      <label className="switch">
        <input
          type="checkbox"
          checked={sharing?.sharing ?? false}
          disabled={!connected || sharing === null}
          onChange={(event) => api.call('sharing.set', { sharing: event.target.checked }).then(setSharing, fail('Could not change sharing'))}
        />
        Share GPU
      </label>
      <button
        type="button"
        className="danger"
        disabled={!connected || idle}
        aria-describedby={idle ? hintId : undefined}
        onClick={() =>
          api.call('sharing.kill').then((state) => {
            setSharing(state);
            notify('info', 'Kill switch: all sharing and remote input stopped.');
          }, fail('Kill switch failed'))
        }
      >
        Stop all sharing
      </button>
      {idle ? (
        <span id={hintId} className="hint">
          Nothing is shared now: no session is streaming and peers cannot start one.
        </span>
      ) : null}
    </div>
  );
}
