import { useEffect, useState, type FormEvent } from 'react';
import type { PeerScope, PeerStatus } from '../../../shared/contract';
import { ViewLinksSection } from './peers/ViewLinksSection';
import { useApi } from '../api/context';
import { Empty, Section } from '../components/Section';
import { SharingToggle } from '../components/SharingToggle';
import { useStore } from '../store';

function ago(iso: string | null): string {
  if (!iso) return 'never';
  const seconds = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return new Date(iso).toLocaleString();
}

export function PeersPage() {
  const api = useApi();
  // Read again after every (re)connection: the host may have changed while we were away.
  const connected = useStore((s) => s.connection.state === 'open');
  const notify = useStore((s) => s.notify);
  const [peers, setPeers] = useState<PeerStatus[] | null>(null);
  const [uri, setUri] = useState('');
  const [pairing, setPairing] = useState(false);
  const [pairError, setPairError] = useState<string | null>(null);

  useEffect(() => {
    if (!connected) return;
    let live = true;
    api.call('peers.list').then(
      (list) => live && setPeers(list),
      (error: Error) => notify('error', `Could not list peers: ${error.message}`),
    );
    const off = api.on('peers.changed', (list) => setPeers(list));
    return () => {
      live = false;
      off();
    };
  }, [api, notify, connected]);

  const pair = (event: FormEvent) => {
    event.preventDefault();
    setPairing(true);
    setPairError(null);
    api.call('peers.pair', { uri: uri.trim() }).then(
      (record) => {
        setUri('');
        notify('info', `Paired with ${record.name}. Input is off until you allow it.`);
        return api.call('peers.list').then(setPeers);
      },
      (error: Error) => setPairError(error.message),
    ).finally(() => setPairing(false));
  };

  const setScope = (peer: PeerStatus, scope: PeerScope, on: boolean) => {
    const scopes = on ? [...new Set([...peer.scopes, scope])] : peer.scopes.filter((s) => s !== scope);
    api.call('peers.setScopes', { peer: peer.fingerprint, scopes }).catch((error: Error) => notify('error', `Could not change ${peer.name}: ${error.message}`));
  };

  const revoke = (peer: PeerStatus) => {
    if (!window.confirm(`Revoke ${peer.name}? It will no longer be able to connect; pairing again needs a new URI from it.`)) return;
    api.call('peers.revoke', { peer: peer.fingerprint }).then(
      () => notify('info', `${peer.name} revoked.`),
      (error: Error) => notify('error', `Could not revoke ${peer.name}: ${error.message}`),
    );
  };

  return (
    <>
      <Section title="Pair a cloud instance">
        <form onSubmit={pair} className="pair-form">
          <label htmlFor="pair-uri">Pairing URI (run <code>gpu-bridge peer pair</code> on the cloud instance)</label>
          <div className="row">
            <input
              id="pair-uri"
              type="text"
              value={uri}
              placeholder="gpubridge://pair?addr=…&fp=…&token=…"
              onChange={(event) => setUri(event.target.value)}
              spellCheck={false}
              autoComplete="off"
              aria-invalid={pairError !== null}
              aria-describedby={pairError ? 'pair-error' : undefined}
            />
            <button type="submit" disabled={pairing || !uri.trim().startsWith('gpubridge://')}>
              {pairing ? 'Pairing…' : 'Pair'}
            </button>
          </div>
          {pairError ? (
            <p id="pair-error" role="alert" className="error-text">
              Pairing refused: {pairError}
            </p>
          ) : null}
        </form>
      </Section>
      <Section title="Paired peers">
        {peers === null ? (
          <p aria-busy="true">Loading…</p>
        ) : peers.length === 0 ? (
          <Empty>No peers are paired yet.</Empty>
        ) : (
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Peer</th>
                <th scope="col">State</th>
                <th scope="col">RTT</th>
                <th scope="col">Last seen</th>
                <th scope="col">View</th>
                <th scope="col">Input</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {peers.map((peer) => (
                <tr key={peer.fingerprint}>
                  <th scope="row" title={`SHA-256 ${peer.fingerprint}`}>
                    {peer.name}
                    <div className="hint">{peer.addr ?? ''}</div>
                  </th>
                  <td>{peer.revokedAt ? 'revoked' : peer.online ? 'online' : 'offline'}</td>
                  <td>{peer.rttMs === null ? '—' : `${peer.rttMs.toFixed(1)} ms`}</td>
                  <td>{ago(peer.lastSeen)}</td>
                  {(['view', 'input'] as const).map((scope) => (
                    <td key={scope}>
                      <input
                        type="checkbox"
                        aria-label={`${peer.name}: allow ${scope}`}
                        checked={peer.scopes.includes(scope)}
                        disabled={peer.revokedAt !== null}
                        onChange={(event) => setScope(peer, scope, event.target.checked)}
                      />
                    </td>
                  ))}
                  <td>
                    <button type="button" className="danger" disabled={peer.revokedAt !== null} onClick={() => revoke(peer)}>
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <ViewLinksSection />
      <Section title="Kill switch">
        <SharingToggle />
      </Section>
    </>
  );
}
