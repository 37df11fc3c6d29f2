import { useEffect, type ComponentType } from 'react';
import { ConnectionBadge } from './components/ConnectionBadge';
import { ErrorBoundary } from './components/ErrorBoundary';
import { Nav, PAGE_TITLES } from './components/Nav';
import { Notices } from './components/Notices';
import { SnapshotBanner } from './components/SnapshotBanner';
import { DashboardPage } from './pages/DashboardPage';
import { GpusPage } from './pages/GpusPage';
import { PassthroughPage } from './pages/PassthroughPage';
import { PeersPage } from './pages/PeersPage';
import { SessionsPage } from './pages/SessionsPage';
import { SettingsPage } from './pages/SettingsPage';
import { WatchPage } from './pages/WatchPage';
import { useStore } from './store';
import { pageFromHash } from './store/slices';
import { selectPage } from './store/selectors';
import type { PageId } from './store/types';

const PAGE_COMPONENTS: Record<PageId, ComponentType> = {
  dashboard: DashboardPage,
  gpus: GpusPage,
  passthrough: PassthroughPage,
  sessions: SessionsPage,
  peers: PeersPage,
  settings: SettingsPage,
  watch: WatchPage,
};

export function App() {
  const page = useStore(selectPage);
  const navigate = useStore((s) => s.navigate);
  useEffect(() => {
    const onHash = () => navigate(pageFromHash(window.location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, [navigate]);
  useEffect(() => {
    document.title = `${PAGE_TITLES[page]} · GPU Bridge`;
    document.getElementById('main')?.focus();
  }, [page]);
  const Page = PAGE_COMPONENTS[page];
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">GPU Bridge</span>
        <ConnectionBadge />
      </header>
      <Nav />
      <main id="main" tabIndex={-1} aria-labelledby="page-title">
        <SnapshotBanner />
        <h1 id="page-title">{PAGE_TITLES[page]}</h1>
        <Notices />
        <ErrorBoundary resetKey={page}>
          <Page />
        </ErrorBoundary>
      </main>
    </div>
  );
}
