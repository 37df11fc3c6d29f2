import type { ApiClient } from '../../api/client';
import { useStore } from '../../store';
import type { SelftestRequest } from '../../store/types';
import { describeFailure } from './session-view';

/**
 * Runs sessions.selftest (it takes seconds) with its state in the store, so the button stays disabled
 * and the result is kept while the owner looks at another page. A second click while one runs does nothing.
 */
export function runSelftest(api: ApiClient, request: SelftestRequest): void {
  const store = useStore.getState();
  if (store.selftest.running) return;
  store.selftestStarted(request, Date.now());
  api.call('sessions.selftest', request).then(
    (result) => useStore.getState().selftestFinished({ result }),
    (error: unknown) => useStore.getState().selftestFinished({ error: describeFailure('The self-test could not run', error) }),
  );
}
