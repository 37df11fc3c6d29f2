import { useCallback, useEffect, useState } from 'react';
import type { VmChange, VmList } from '../../../../shared/contract';
import { useApi } from '../../api/context';
import { Empty } from '../../components/Section';

/**
 * The wizard's last step, "Give it to a VM": the libvirt domains and what each already holds, attaching the
 * plan's devices to one (its config; live as well when it runs) and detaching them again, with the
 * <hostdev> elements as libvirt holds them afterwards. `bound`: the devices are on vfio-pci now (step 4).
 */
export function VmStep({ address, withExtras, bound }: { address: string; withExtras: string[]; bound: boolean }) {
  const api = useApi();
  const [list, setList] = useState<VmList | null>(null);
  const [domain, setDomain] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<{ verb: 'attach' | 'detach'; change: VmChange } | null>(null);
  const [error, setError] = useState<string | null>(null);

  const refresh = useCallback(() => {
    api.call('passthrough.vms').then(
      (vms) => {
        setList(vms);
        setDomain((current) => (vms.domains.some((d) => d.name === current) ? current : (vms.domains[0]?.name ?? '')));
      },
      (e: Error) => setError(`Could not list the VMs: ${e.message}`),
    );
  }, [api]);

  useEffect(() => {
    setOutcome(null);
    setError(null);
    refresh();
  }, [refresh, address]);

  const chosen = list?.domains.find((d) => d.name === domain) ?? null;
  const change = (verb: 'attach' | 'detach') => {
    if (!chosen) return;
    setBusy(verb === 'attach' ? `Attaching the devices to ${chosen.name}…` : `Detaching the devices from ${chosen.name}…`);
    setOutcome(null);
    setError(null);
    api
      .call(verb === 'attach' ? 'passthrough.attach' : 'passthrough.detach', { address, domain: chosen.name, ...(withExtras.length > 0 ? { with: withExtras } : {}) })
      .then((result) => setOutcome({ verb, change: result }), (e: Error) => setError(`${verb === 'attach' ? 'Attach' : 'Detach'} failed: ${e.message}`))
      .finally(() => {
        setBusy(null);
        refresh();
      });
  };

  if (list === null) {
    return error ? (
      <p role="alert" className="error-text">
        {error}
      </p>
    ) : (
      <p aria-busy="true">Asking libvirt for its VMs…</p>
    );
  }
  if (!list.available) {
    return (
      <>
        <p role="alert">
          <strong>No VMs to give it to:</strong> {list.reason}
        </p>
        <p className="hint">The rest of the wizard works without it; you can also give the devices to QEMU yourself.</p>
        <button type="button" onClick={refresh}>
          Check again
        </button>
      </>
    );
  }

  return (
    <>
      {list.domains.length === 0 ? (
        <Empty>
          No VM is defined in libvirt at <code>{list.uri}</code>. Create one (virt-manager, or virsh define), then check again.
        </Empty>
      ) : (
        <table className="table" aria-label="libvirt VMs">
          <thead>
            <tr>
              <th scope="col">VM</th>
              <th scope="col">State</th>
              <th scope="col">PCI devices it holds</th>
            </tr>
          </thead>
          <tbody>
            {list.domains.map((d) => (
              <tr key={d.name}>
                <td>{d.name}</td>
                <td>{d.state}</td>
                <td>{d.hostdevs.length > 0 ? d.hostdevs.map((h) => <code key={h}>{h} </code>) : <span className="hint">none</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="row">
        <label>
          VM{' '}
          <select aria-label="VM to give the devices to" value={domain} onChange={(event) => setDomain(event.target.value)} disabled={list.domains.length === 0 || busy !== null}>
            {list.domains.map((d) => (
              <option key={d.name} value={d.name}>
                {d.name} ({d.state})
              </option>
            ))}
          </select>
        </label>
        <button type="button" disabled={!chosen || busy !== null || (chosen.running && !bound)} onClick={() => change('attach')}>
          Attach to VM
        </button>
        <button type="button" disabled={!chosen || busy !== null} onClick={() => change('detach')}>
          Detach from VM
        </button>
        <button type="button" disabled={busy !== null} onClick={refresh}>
          Refresh
        </button>
      </div>
      <p className="hint">
        {chosen?.running
          ? 'This VM is running: the devices go to it now and into its configuration.'
          : 'A stopped VM gets the devices in its configuration; they reach the guest when it starts.'}{' '}
        libvirt does not rebind them itself (managed=&apos;no&apos;): they must be on vfio-pci (step 4) before the VM starts{bound ? '.' : ' — they are not yet.'} Restoring
        the host drivers detaches them from a stopped VM&apos;s configuration; shut a running VM down first.
      </p>
      {busy ? <p aria-busy="true">{busy}</p> : null}
      {error ? (
        <p role="alert" className="error-text">
          {error}
        </p>
      ) : null}
      {outcome ? (
        <div role="status">
          <p>
            <strong>
              {outcome.change.devices.every((d) => d.ok) ? `${outcome.verb === 'attach' ? 'Attached to' : 'Detached from'} ${outcome.change.domain}` : `${outcome.verb} did not complete`}
            </strong>{' '}
            ({outcome.change.live ? 'running VM: live and in its configuration' : 'in its configuration'})
          </p>
          <ul className="hint">
            {outcome.change.devices.map((d) => (
              <li key={d.address}>
                {d.ok ? '✓' : '✗'} <code>{d.address}</code> {d.message}
              </li>
            ))}
          </ul>
          {outcome.change.xml.length > 0 ? (
            <>
              <p>What libvirt holds now:</p>
              <pre aria-label="hostdev XML">{outcome.change.xml.join('\n')}</pre>
            </>
          ) : (
            <p className="hint">libvirt&apos;s configuration of {outcome.change.domain} holds none of these devices now.</p>
          )}
        </div>
      ) : null}
    </>
  );
}
