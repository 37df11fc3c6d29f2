import { useStore } from '../store';
import { selectInfo } from '../store/selectors';

/** Says so on every page when the host shown is a recording (`gpu-bridge serve --from`): whose, when, read-only. */
export function SnapshotBanner() {
  const snapshot = useStore(selectInfo)?.snapshot ?? null;
  if (!snapshot) return null;
  const taken = Number.isNaN(Date.parse(snapshot.takenAt)) ? snapshot.takenAt : new Date(snapshot.takenAt).toLocaleString();
  return (
    <div className="snapshot-banner" role="status" aria-label="Snapshot">
      <strong>Snapshot of {snapshot.host}</strong>, taken {taken}
      {snapshot.source ? <span className="hint"> ({snapshot.source})</span> : null}. Read-only: what it shows was recorded there, and every
      change is refused.
    </div>
  );
}
