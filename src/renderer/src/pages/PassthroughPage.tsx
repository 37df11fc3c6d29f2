import { useEffect, useState } from 'react';
import type { Inventory, PassthroughPlan, PreflightCheck, ToggleResult } from '../../../shared/contract';
import { useApi } from '../api/context';
import { Empty, Section } from '../components/Section';
import { useStore } from '../store';

type Checks = { boot: { distro: string | null; bootloader: string; initramfs: string }; checks: PreflightCheck[] };

const STATUS_LABEL: Record<PreflightCheck['status'], string> = { pass: 'pass', warn: 'warning', fail: 'fail', unknown: 'unknown' };

function CheckList({ checks }: { checks: PreflightCheck[] }) {
  return (
    <ul className="checks">
      {checks.map((check) => (
        <li key={check.id} className={`check check-${check.status}`}>
          <strong>
            <span className={`badge ${check.status === 'pass' ? 'yes' : 'no'}`}>{STATUS_LABEL[check.status]}</span> {check.title}
          </strong>
          {check.evidence.length > 0 ? (
            <div className="hint">
              {check.evidence.map((e) => (
                <div key={`${e.file}:${e.value}`}>
                  <code>{e.file}</code>: {e.value}
                </div>
              ))}
            </div>
          ) : null}
          {check.remedy && check.status !== 'pass' ? <p>What to do: {check.remedy}</p> : null}
        </li>
      ))}
    </ul>
  );
}

function PlanView({ plan }: { plan: PassthroughPlan }) {
  return (
    <>
      <p>
        Verdict: <strong>{plan.viable ? 'can be passed through' : 'blocked'}</strong>
      </p>
      <table className="table" aria-label="Devices that move to vfio-pci">
        <thead>
          <tr>
            <th scope="col">Address</th>
            <th scope="col">Role</th>
            <th scope="col">Driver now</th>
          </tr>
        </thead>
        <tbody>
          {plan.devices.map((d) => (
            <tr key={d.address}>
              <td>
                <code>{d.address}</code>
              </td>
              <td>{d.role}</td>
              <td>{d.driver ?? 'none'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {[...plan.blockers.map((f) => ({ ...f, kind: 'Blocker' })), ...plan.warnings.map((f) => ({ ...f, kind: 'Warning' }))].map((f) => (
        <p key={`${f.kind}:${f.code}`} role={f.kind === 'Blocker' ? 'alert' : undefined}>
          <strong>{f.kind}:</strong> {f.message} {f.devices.length > 0 ? <span className="hint">({f.devices.join(', ')})</span> : null}
        </p>
      ))}
    </>
  );
}

function ResultView({ result }: { result: ToggleResult }) {
  return (
    <div role="status">
      {result.recovered ? <p>{result.recovered}</p> : null}
      <p>
        <strong>{result.ok ? `${result.verb} done` : `${result.verb} failed`}</strong>
        {result.error ? `: ${result.error.message}` : ''}
        {result.rolledBack ? ' — every device was put back on its original driver.' : ''}
      </p>
      <ol className="hint">
        {result.steps.map((step, i) => (
          <li key={i}>
            {step.ok ? '✓' : '✗'} {step.what} <code>{step.path}</code> ({Math.round(step.ms)} ms){step.error ? ` — ${step.error}` : ''}
          </li>
        ))}
      </ol>
      {result.verification ? (
        <p>
          Verified: drivers {result.verification.drivers ? 'ok' : 'wrong'}, /dev/vfio node {result.verification.vfioNodes ? 'present' : 'missing'}, group{' '}
          {result.verification.viable ? 'viable' : 'not viable'}.
        </p>
      ) : null}
    </div>
  );
}

/** The guided wizard: host checks → choose a GPU → review its plan → bind → verify, and the way back. */
export function PassthroughPage() {
  const api = useApi();
  const connected = useStore((s) => s.connection.state === 'open');
  const [checks, setChecks] = useState<Checks | null>(null);
  const [inventory, setInventory] = useState<Inventory | null>(null);
  const [target, setTarget] = useState<string | null>(null);
  const [plan, setPlan] = useState<PassthroughPlan | null>(null);
  const [gpuChecks, setGpuChecks] = useState<PreflightCheck[] | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [result, setResult] = useState<ToggleResult | null>(null);
  const [error, setError] = useState<string | null>(null);

  const recheck = () => {
    setError(null);
    api.call('passthrough.checks').then(setChecks, (e: Error) => setError(`Host checks failed: ${e.message}`));
  };
  useEffect(() => {
    if (!connected) return;
    recheck();
    api.call('inventory.get').then(setInventory, (e: Error) => setError(`Could not read the GPUs: ${e.message}`));
  }, [api, connected]);

  useEffect(() => {
    if (!target) return;
    setPlan(null);
    setGpuChecks(null);
    setResult(null);
    api.call('passthrough.plan', { address: target }).then(setPlan, (e: Error) => setError(`Could not plan ${target}: ${e.message}`));
    api.call('passthrough.checks', { address: target }).then((c) => setGpuChecks(c.checks), () => undefined);
  }, [api, target]);

  const toggle = (verb: 'bind' | 'restore') => {
    if (!target) return;
    setBusy(verb === 'bind' ? 'Moving the devices to vfio-pci…' : 'Giving the devices back to their drivers…');
    setResult(null);
    api
      .call(verb === 'bind' ? 'passthrough.bind' : 'passthrough.restore', { address: target })
      .then(setResult, (e: Error) => setError(`${verb} failed: ${e.message}`))
      .finally(() => {
        setBusy(null);
        api.call('passthrough.plan', { address: target }).then(setPlan, () => undefined);
      });
  };

  return (
    <>
      {error ? (
        <p role="alert" className="error-text">
          {error}
        </p>
      ) : null}
      <Section title="1. Host checks">
        {checks === null ? (
          <p aria-busy="true">Checking the host…</p>
        ) : (
          <>
            <p className="hint">
              {checks.boot.distro ?? 'Unknown distribution'} · bootloader {checks.boot.bootloader} · initramfs {checks.boot.initramfs}
            </p>
            <CheckList checks={checks.checks} />
          </>
        )}
        <button type="button" onClick={recheck} disabled={!connected}>
          Re-check
        </button>
      </Section>
      <Section title="2. Choose the GPU">
        {inventory === null ? (
          <p aria-busy="true">Reading the GPUs…</p>
        ) : inventory.gpus.length === 0 ? (
          <Empty>No GPU on this host to pass through.</Empty>
        ) : (
          <fieldset>
            <legend className="visually-hidden">GPU to pass through</legend>
            {inventory.gpus.map((gpu) => (
              <label key={gpu.address} className="radio">
                <input type="radio" name="gpu" value={gpu.address} checked={target === gpu.address} onChange={() => setTarget(gpu.address)} />
                {gpu.name ?? gpu.address} <code>{gpu.address}</code> · driver {gpu.driver ?? 'none'} · IOMMU group {gpu.iommuGroup ?? 'none'}
              </label>
            ))}
          </fieldset>
        )}
      </Section>
      {target ? (
        <Section title="3. Review the plan">
          {plan ? <PlanView plan={plan} /> : <p aria-busy="true">Planning…</p>}
          {gpuChecks ? <CheckList checks={gpuChecks.filter((c) => c.status !== 'pass')} /> : null}
        </Section>
      ) : null}
      {target && plan ? (
        <Section title="4. Apply, verify, and the way back">
          <div className="row">
            <button type="button" disabled={!plan.viable || busy !== null} onClick={() => toggle('bind')}>
              Bind to vfio-pci
            </button>
            <button type="button" disabled={busy !== null} onClick={() => toggle('restore')}>
              Restore host drivers
            </button>
          </div>
          <p className="hint">Runs the privileged helper (through pkexec, which asks for your password). Any failure puts every device back on its original driver.</p>
          {busy ? <p aria-busy="true">{busy}</p> : null}
          {result ? <ResultView result={result} /> : null}
        </Section>
      ) : null}
    </>
  );
}
