import { useEffect, useState } from 'react';
import type { Inventory, PassthroughPlan, PreflightCheck, ToggleResult } from '../../../shared/contract';
import { useApi } from '../api/context';
import { Empty, Section } from '../components/Section';
import { useStore } from '../store';
import { VmStep } from './passthrough/VmStep';

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

function Findings({ plan }: { plan: PassthroughPlan }) {
  return (
    <>
      {[...plan.blockers.map((f) => ({ ...f, kind: 'Blocker' })), ...plan.warnings.map((f) => ({ ...f, kind: 'Warning' }))].map((f) => (
        <div key={`${f.kind}:${f.code}:${f.devices.join(',')}`} className={`finding finding-${f.kind.toLowerCase()}`} role={f.kind === 'Blocker' ? 'alert' : undefined}>
          <p>
            <strong>{f.kind}:</strong> {f.message} {f.devices.length > 0 ? <span className="hint">({f.devices.join(', ')})</span> : null}
          </p>
          {f.evidence && f.evidence.length > 0 ? (
            <ul className="hint evidence" aria-label={`Evidence for ${f.code}`}>
              {f.evidence.map((e) => (
                <li key={`${e.file}:${e.value}`}>
                  <code>{e.file}</code>: {e.value}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ))}
    </>
  );
}

/** The card's other functions in other IOMMU groups: unticked, each with why it stays and what the host would lose. */
function OptionalFunctions({ plan, extras, onToggle }: { plan: PassthroughPlan; extras: string[]; onToggle: (address: string) => void }) {
  const asked = plan.with.filter((a) => !plan.optional.some((o) => o.address === a));
  if (plan.optional.length === 0 && asked.length === 0) return null;
  return (
    <fieldset className="optional-functions">
      <legend>The card&apos;s other functions: they stay on the host unless you add them</legend>
      {asked.map((address) => (
        <label key={address} className="checkbox">
          <input type="checkbox" checked onChange={() => onToggle(address)} /> <code>{address}</code> added: it moves with the GPU
        </label>
      ))}
      {plan.optional.map((o) => (
        <label key={o.address} className="checkbox">
          <input type="checkbox" checked={extras.includes(o.address)} onChange={() => onToggle(o.address)} /> Also pass through <code>{o.address}</code> ({o.role}, {o.driver ?? 'no driver'}, IOMMU group {o.group ?? 'none'})
          <span className="hint"> — {o.reason}</span>
          {o.hostLoss.length > 0 ? <span className="warning-text"> The host would lose: {o.hostLoss.join(', ')}.</span> : null}
        </label>
      ))}
    </fieldset>
  );
}

/** The card's slot's functions the host's platform needs (the platform security processor...): shown, never offered. */
function HostOnly({ plan }: { plan: PassthroughPlan }) {
  if (plan.hostOnly.length === 0) return null;
  return (
    <div className="host-only" aria-label="Functions that stay with the host">
      <p>These functions of the card&apos;s slot stay with the host and are not offered:</p>
      <ul>
        {plan.hostOnly.map((h) => (
          <li key={h.address}>
            <code>{h.address}</code> ({h.role}) — {h.reason}
          </li>
        ))}
      </ul>
    </div>
  );
}

function PlanView({ plan, extras, onToggleExtra }: { plan: PassthroughPlan; extras: string[]; onToggleExtra: (address: string) => void }) {
  return (
    <>
      <p>
        Verdict: <strong>{plan.viable ? 'can be passed through' : 'blocked'}</strong>
        {plan.physfn ? (
          <>
            {' '}
            — a virtual function of <code>{plan.physfn}</code>, which keeps its driver
          </>
        ) : null}
      </p>
      <table className="table" aria-label="Devices that move to vfio-pci">
        <thead>
          <tr>
            <th scope="col">Address</th>
            <th scope="col">Role</th>
            <th scope="col">Driver now</th>
            <th scope="col">Why it moves</th>
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
              <td className="hint">{d.why ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {plan.cardSwitch ? (
        <p className="hint">
          The card carries its own PCIe switch (<code>{plan.cardSwitch}</code>): the functions of the GPU&apos;s vendor behind it are the card&apos;s own.
        </p>
      ) : null}
      <OptionalFunctions plan={plan} extras={extras} onToggle={onToggleExtra} />
      <HostOnly plan={plan} />
      <Findings plan={plan} />
    </>
  );
}

/** Where the GPU has SR-IOV: its virtual functions, each of which can be passed through while the host keeps the GPU. */
function VirtualFunctions({ gpu, onChoose, onChanged }: { gpu: Inventory['gpus'][number]; onChoose: (address: string) => void; onChanged: () => void }) {
  const api = useApi();
  const total = gpu.sriov.totalVfs ?? 0;
  const [count, setCount] = useState(Math.min(2, total));
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<string | null>(null);
  if (gpu.sriov.physfn !== null || total === 0) return null;
  const setVfs = (vfs: number) => {
    setBusy(true);
    setAnswer(null);
    api
      .call('passthrough.sriov', { address: gpu.address, vfs })
      .then(
        (r) => setAnswer(r.ok ? `${gpu.address} now has ${r.devices.length} virtual functions.` : `Could not change the virtual functions: ${r.error?.message ?? 'failed'}`),
        (e: Error) => setAnswer(`Could not change the virtual functions: ${e.message}`),
      )
      .finally(() => {
        setBusy(false);
        onChanged();
      });
  };
  return (
    <div className="vf-offer" role="group" aria-label="Pass a virtual function through instead">
      <p>
        <strong>Pass a virtual function through instead:</strong> {gpu.address} supports SR-IOV ({total} virtual functions). A VM gets a slice of the GPU and the host keeps the GPU and its display.
      </p>
      {gpu.sriov.vfs.length === 0 ? (
        <div className="row">
          <label>
            Virtual functions{' '}
            <input type="number" min={1} max={total} value={count} onChange={(e) => setCount(Math.max(1, Math.min(total, Number(e.target.value) || 1)))} />
          </label>
          <button type="button" disabled={busy} onClick={() => setVfs(count)}>
            Enable {count} virtual function{count === 1 ? '' : 's'}
          </button>
        </div>
      ) : (
        <>
          <ul>
            {gpu.sriov.vfs.map((vf) => (
              <li key={vf.address}>
                <button type="button" onClick={() => onChoose(vf.address)}>
                  Use {vf.address}
                </button>{' '}
                <span className="hint">
                  IOMMU group {vf.iommuGroup ?? 'none'} · driver {vf.driver ?? 'none'}
                </span>
              </li>
            ))}
          </ul>
          <button type="button" disabled={busy} onClick={() => setVfs(0)}>
            Remove the virtual functions
          </button>
        </>
      )}
      {busy ? <p aria-busy="true">Asking the helper…</p> : null}
      {answer ? <p role="status">{answer}</p> : null}
    </div>
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
  const [extras, setExtras] = useState<string[]>([]);
  const [gpuChecks, setGpuChecks] = useState<PreflightCheck[] | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [result, setResult] = useState<ToggleResult | null>(null);
  const [error, setError] = useState<string | null>(null);

  /** After a change this page made (bind, restore, virtual functions), the server's cached inventory is stale: refresh. */
  const readInventory = (refresh = false) => {
    api.call('inventory.get', refresh ? { refresh: true } : undefined).then(setInventory, (e: Error) => setError(`Could not read the GPUs: ${e.message}`));
  };
  const recheck = () => {
    setError(null);
    api.call('passthrough.checks').then(setChecks, (e: Error) => setError(`Host checks failed: ${e.message}`));
  };
  useEffect(() => {
    if (!connected) return;
    recheck();
    readInventory();
  }, [api, connected]);

  useEffect(() => {
    if (!target) return;
    setPlan(null);
    setGpuChecks(null);
    setResult(null);
    setExtras([]);
    api.call('passthrough.checks', { address: target }).then((c) => setGpuChecks(c.checks), () => undefined);
  }, [api, target]);

  useEffect(() => {
    if (!target) return;
    api.call('passthrough.plan', { address: target, with: extras }).then(setPlan, (e: Error) => setError(`Could not plan ${target}: ${e.message}`));
  }, [api, target, extras]);

  const toggleExtra = (address: string) => setExtras((now) => (now.includes(address) ? now.filter((a) => a !== address) : [...now, address].sort()));
  const chosen = inventory?.gpus.find((g) => g.address === target) ?? null;

  const toggle = (verb: 'bind' | 'restore') => {
    if (!target) return;
    setBusy(verb === 'bind' ? 'Moving the devices to vfio-pci…' : 'Giving the devices back to their drivers…');
    setResult(null);
    api
      .call(verb === 'bind' ? 'passthrough.bind' : 'passthrough.restore', verb === 'bind' ? { address: target, with: extras } : { address: target })
      .then(setResult, (e: Error) => setError(`${verb} failed: ${e.message}`))
      .finally(() => {
        setBusy(null);
        readInventory(true);
        api.call('passthrough.plan', { address: target, with: extras }).then(setPlan, () => undefined);
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
          {chosen ? <VirtualFunctions gpu={chosen} onChoose={setTarget} onChanged={() => readInventory(true)} /> : null}
          {plan ? <PlanView plan={plan} extras={extras} onToggleExtra={toggleExtra} /> : <p aria-busy="true">Planning…</p>}
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
      {target && plan ? (
        <Section title="5. Give it to a VM">
          <VmStep address={target} withExtras={extras} bound={(result?.ok === true && result.verb === 'bind') || (plan.devices.length > 0 && plan.devices.every((d) => d.driver === 'vfio-pci'))} />
        </Section>
      ) : null}
    </>
  );
}
