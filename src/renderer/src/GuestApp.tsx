import { WatchPage } from './pages/WatchPage';

/** What a view link opens: the picture of what the owner shares, and nothing of the host's pages. */
export function GuestApp() {
  return (
    <div className="app guest">
      <header className="topbar">
        <span className="brand">GPU Bridge</span>
      </header>
      <main id="main" tabIndex={-1} aria-labelledby="page-title">
        <h1 id="page-title">Watch</h1>
        <WatchPage guest />
      </main>
    </div>
  );
}
