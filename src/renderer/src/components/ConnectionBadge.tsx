import { useStore } from '../store';
import { connectionLabel, selectConnectionDetail, selectConnectionState } from '../store/selectors';

export function ConnectionBadge() {
  const state = useStore(selectConnectionState);
  const detail = useStore(selectConnectionDetail);
  return (
    <div className={`connection connection-${state}`} role="status" aria-live="polite" data-testid="connection">
      <span className="dot" aria-hidden="true" />
      {connectionLabel(state)}
      {detail ? <span className="detail"> — {detail}</span> : null}
    </div>
  );
}
