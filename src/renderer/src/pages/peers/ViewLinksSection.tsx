import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { ViewLink } from '../../../../shared/contract/webrtc';
import { useApi } from '../../api/context';
import { Section } from '../../components/Section';
import { useStore } from '../../store';

function linkState(link: ViewLink, now: number): string {
  if (link.revokedAt) return 'revoked';
  if (link.usedAt) return `used ${new Date(link.usedAt).toLocaleString()}${link.usedFrom ? ` from ${link.usedFrom}` : ''}`;
  if (Date.parse(link.expiresAt) <= now) return 'expired';
  return `unused, expires ${new Date(link.expiresAt).toLocaleString()}`;
}

/** View links beside the paired peers: someone else's browser watches once, until the link expires or is revoked. */
export function ViewLinksSection() {
  const api = useApi();
  const connected = useStore((s) => s.connection.state === 'open');
  const notify = useStore((s) => s.notify);
  const [links, setLinks] = useState<ViewLink[] | null>(null);
  const [label, setLabel] = useState('');
  const [minutes, setMinutes] = useState(60);
  const [input, setInput] = useState(false);
  const [made, setMade] = useState<string | null>(null);

  const refresh = useCallback(() => api.call('viewlinks.list').then(setLinks, (error: Error) => notify('error', `Could not list view links: ${error.message}`)), [api, notify]);
  useEffect(() => {
    if (connected) void refresh();
  }, [refresh, connected]);

  const create = (event: FormEvent) => {
    event.preventDefault();
    api.call('viewlinks.create', { label: label.trim(), minutes, input }).then(
      ({ path }) => {
        setMade(`${window.location.origin}${path}`);
        setLabel('');
        return refresh();
      },
      (error: Error) => notify('error', `Could not make a view link: ${error.message}`),
    );
  };
  const revoke = (link: ViewLink) => {
    api.call('viewlinks.revoke', { id: link.id }).then(refresh, (error: Error) => notify('error', `Could not revoke ${link.label}: ${error.message}`));
  };
  const now = Date.now();
  return (
    <Section title="View links">
      <p className="hint">A view link lets someone watch what you share in their browser, once, until it expires or you revoke it. It is view only unless you allow input.</p>
      <form onSubmit={create} className="inline-form">
        <label>
          For <input value={label} onChange={(e) => setLabel(e.target.value)} required maxLength={80} placeholder="who it is for" />
        </label>{' '}
        <label>
          Expires after{' '}
          <select value={minutes} onChange={(e) => setMinutes(Number(e.target.value))}>
            <option value={15}>15 minutes</option>
            <option value={60}>1 hour</option>
            <option value={480}>8 hours</option>
            <option value={1440}>1 day</option>
          </select>
        </label>{' '}
        <label>
          <input type="checkbox" checked={input} onChange={(e) => setInput(e.target.checked)} /> allow input
        </label>{' '}
        <button type="submit" disabled={!label.trim()}>Make view link</button>
      </form>
      {made && (
        <p role="status">
          Send this link (shown once): <code data-testid="view-link-url">{made}</code>
        </p>
      )}
      {links && links.length === 0 && <p>No view links yet.</p>}
      {links && links.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">For</th>
              <th scope="col">State</th>
              <th scope="col">Scope</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {links.map((link) => (
              <tr key={link.id}>
                <th scope="row">{link.label}</th>
                <td>{linkState(link, now)}</td>
                <td>{link.input ? 'view and input' : 'view only'}</td>
                <td>
                  <button type="button" className="danger" disabled={link.revokedAt !== null} onClick={() => revoke(link)}>
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}
