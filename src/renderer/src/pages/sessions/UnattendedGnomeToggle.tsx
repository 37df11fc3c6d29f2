import { useEffect, useState } from 'react';
import { useApi } from '../../api/context';
import { useStore } from '../../store';
import { selectConnectionState } from '../../store/selectors';

/** The owner's opt-in to GNOME's unattended screen cast, with what it means said next to it. */
export function UnattendedGnomeToggle({ onChanged }: { onChanged?: () => void }) {
  const api = useApi();
  const connected = useStore(selectConnectionState) === 'open';
  const notify = useStore((s) => s.notify);
  const [unattended, setUnattended] = useState<boolean | null>(null);
  useEffect(() => {
    if (!connected) return;
    api.call('sessions.captureSettings').then((settings) => setUnattended(settings.unattendedGnome), () => setUnattended(null));
  }, [api, connected]);

  const toggle = (next: boolean) => {
    api.call('sessions.setCaptureSettings', { unattendedGnome: next }).then(
      (settings) => {
        setUnattended(settings.unattendedGnome);
        onChanged?.();
      },
      (failure: Error) => notify('error', `Could not change unattended GNOME sharing: ${failure.message}`),
    );
  };

  return (
    <label className="unattended">
      <input type="checkbox" checked={unattended === true} disabled={unattended === null} onChange={(event) => toggle(event.target.checked)} />
      Unattended GNOME sharing: GNOME shares this screen with any paired peer you start a session to, with no dialog on the workstation. For hosts nobody sits at.
    </label>
  );
}
