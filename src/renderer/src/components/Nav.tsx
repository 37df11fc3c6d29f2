import { useStore } from '../store';
import { selectPage } from '../store/selectors';
import { PAGES, type PageId } from '../store/types';

export const PAGE_TITLES: Record<PageId, string> = {
  dashboard: 'Dashboard',
  gpus: 'GPUs',
  passthrough: 'Passthrough',
  sessions: 'Sessions',
  peers: 'Peers',
  settings: 'Settings',
  watch: 'Watch',
};

export function Nav() {
  const page = useStore(selectPage);
  const navigate = useStore((s) => s.navigate);
  return (
    <nav aria-label="Main" className="nav">
      <ul>
        {PAGES.map((id) => (
          <li key={id}>
            <a
              href={`#/${id}`}
              aria-current={page === id ? 'page' : undefined}
              onClick={(event) => {
                event.preventDefault();
                navigate(id);
              }}
            >
              {PAGE_TITLES[id]}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}
