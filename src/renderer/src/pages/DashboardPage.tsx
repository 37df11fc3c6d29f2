import { Empty, Section } from '../components/Section';
import { useStore } from '../store';
import { selectInfo, selectInfoError } from '../store/selectors';

export function DashboardPage() {
  const info = useStore(selectInfo);
  const error = useStore(selectInfoError);
  if (error) return <p role="alert">Could not read the host: {error}</p>;
  if (!info) return <p aria-busy="true">Reading the host…</p>;
  const caps = info.capabilities;
  const nvidia = caps.nvml ? 'NVML loads in-process' : caps.nvidiaSmi ? 'nvidia-smi found (no NVML)' : 'no NVIDIA driver found';
  return (
    <>
      <Section title="This host">
        <dl className="facts">
          <dt>Host</dt>
          <dd>{info.hostname}</dd>
          <dt>GPU Bridge</dt>
          <dd>
            {info.version} ({info.shell} shell, {info.platform}/{info.arch})
          </dd>
          <dt>NVIDIA</dt>
          <dd>{nvidia}</dd>
          <dt>Capture</dt>
          <dd>{caps.xDisplay ? `X display ${caps.xDisplay}` : 'no X display'}</dd>
        </dl>
      </Section>
      <Section title="GPUs">
        <Empty>Live GPU cards and charts appear here once the inventory and metrics service is running on this host.</Empty>
      </Section>
    </>
  );
}
