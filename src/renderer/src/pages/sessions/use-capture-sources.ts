import { useCallback, useEffect, useState } from 'react';
import type { CaptureSourcesInfo } from '../../../../shared/contract';
import { useApi } from '../../api/context';
import { useStore } from '../../store';
import { selectConnectionState } from '../../store/selectors';

/** Which capture sources work on the host (read after every (re)connection), and a way to read them again. */
export function useCaptureSources(): { sources: CaptureSourcesInfo | null; error: string | null; reload: () => void } {
  const api = useApi();
  const connected = useStore(selectConnectionState) === 'open';
  const [sources, setSources] = useState<CaptureSourcesInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    if (!connected) return;
    let live = true;
    api.call('sessions.sources').then(
      (found) => {
        if (!live) return;
        setSources(found);
        setError(null);
      },
      (failure: Error) => live && setError(failure.message),
    );
    return () => {
      live = false;
    };
  }, [api, connected, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { sources, error, reload };
}

export const SOURCE_NAMES: Record<CaptureSourcesInfo['sources'][number]['kind'], string> = {
  x11: 'X display',
  portal: 'Screen share portal',
  gnome: 'GNOME, unattended',
  wlroots: 'wlroots screencopy',
  test: 'Test pattern',
};
