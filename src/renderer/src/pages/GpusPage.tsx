import { useEffect, useState } from 'react';
import type { Gpu, Inventory } from '../../../shared/contract';
import { useApi } from '../api/context';
import { Empty, Section } from '../components/Section';
import { formatBytes, orDash } from '../format';
import { ffmpegMissing, noIommuGroupText } from '../host-facts';
import { useStore } from '../store';
import { encoderSummary, selectInfo } from '../store/selectors';

function Codec({ name, value }: { name: string; value: boolean | null }) {
  const text = value === null ? 'unknown' : value ? 'yes' : 'no';
  return (
    <span className={`badge ${value ? 'yes' : 'no'}`} aria-label={`${name}: ${text}`}>
      {name} {value === null ? '?' : value ? '✓' : '✗'}
    </span>
  );
}

function GroupTable({ gpu }: { gpu: Gpu }) {
  const info = useStore(selectInfo);
  if (gpu.iommuGroup === null) return <p className="hint">{noIommuGroupText(info)}</p>;
  return (
    <table className="table" aria-label={`IOMMU group ${gpu.iommuGroup} of ${gpu.address}`}>
      <caption className="hint">IOMMU group {gpu.iommuGroup}</caption>
      <thead>
        <tr>
          <th scope="col">Address</th>
          <th scope="col">Class</th>
          <th scope="col">Driver</th>
          <th scope="col">Bridge</th>
        </tr>
      </thead>
      <tbody>
        {gpu.groupMembers.map((member) => (
          <tr key={member.address}>
            <td>
              <code>{member.address}</code>
            </td>
            <td>{orDash(member.classCode)}</td>
            <td>{orDash(member.driver)}</td>
            <td>{member.isBridge ? 'yes' : 'no'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function GpuCard({ gpu }: { gpu: Gpu }) {
  return (
    <Section title={gpu.name ?? `${gpu.vendor} GPU ${gpu.address}`}>
      <dl className="facts">
        <dt>Address</dt>
        <dd>
          <code>{gpu.address}</code>
        </dd>
        <dt>Driver</dt>
        <dd>{orDash(gpu.driver)}</dd>
        <dt>Memory</dt>
        <dd>{formatBytes(gpu.memoryTotalBytes)}</dd>
        <dt>Primary display</dt>
        <dd>{gpu.bootVga === null ? '—' : gpu.bootVga ? 'yes (boot VGA)' : 'no'}</dd>
        <dt>PCIe</dt>
        <dd>
          {gpu.pcie.currentGen === null ? '—' : `Gen${gpu.pcie.currentGen} x${orDash(gpu.pcie.currentWidth)} (max Gen${orDash(gpu.pcie.maxGen)} x${orDash(gpu.pcie.maxWidth)})`}
        </dd>
        <dt>Hardware encode</dt>
        <dd>
          <Codec name="H.264" value={gpu.encoders.h264} />
          <Codec name="HEVC" value={gpu.encoders.hevc} />
          <Codec name="AV1" value={gpu.encoders.av1} />
        </dd>
        <dt>Encoder sessions</dt>
        <dd>{gpu.encoderSessionLimit === null ? '—' : gpu.encoderSessionLimit === 'unlimited' ? 'no driver limit' : `up to ${gpu.encoderSessionLimit}`}</dd>
        {gpu.nvidia ? (
          <>
            <dt>NVIDIA driver</dt>
            <dd>
              {orDash(gpu.nvidia.driverVersion)} (CUDA {orDash(gpu.nvidia.cudaVersion)}, via {gpu.nvidia.source})
            </dd>
            <dt>MIG</dt>
            <dd>{orDash(gpu.nvidia.migMode)}</dd>
            <dt>Virtualization</dt>
            <dd>{orDash(gpu.nvidia.virtualizationMode)}</dd>
          </>
        ) : null}
        <dt>SR-IOV</dt>
        <dd>
          {gpu.sriov.physfn ? (
            <>
              a virtual function of <code>{gpu.sriov.physfn}</code>
            </>
          ) : gpu.sriov.totalVfs ? (
            `${orDash(gpu.sriov.numVfs)} of ${gpu.sriov.totalVfs} virtual functions enabled`
          ) : (
            'no'
          )}
          {gpu.sriov.vfs.length > 0 ? (
            <ul aria-label="Virtual functions" className="hint">
              {gpu.sriov.vfs.map((vf) => (
                <li key={vf.address}>
                  <code>{vf.address}</code> · IOMMU group {vf.iommuGroup ?? 'none'} · driver {vf.driver ?? 'none'}
                </li>
              ))}
            </ul>
          ) : null}
        </dd>
      </dl>
      <GroupTable gpu={gpu} />
    </Section>
  );
}

export function GpusPage() {
  const api = useApi();
  // Read again after every (re)connection: the host may have changed while we were away.
  const connected = useStore((s) => s.connection.state === 'open');
  const info = useStore(selectInfo);
  const [inventory, setInventory] = useState<Inventory | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!connected) return;
    api.call('inventory.get').then(setInventory, (failure: Error) => setError(failure.message));
  }, [api, connected]);
  const encoders = encoderSummary(info);
  return (
    <>
      {error ? <p role="alert">Could not read the GPU inventory: {error}</p> : null}
      {inventory === null && !error ? <p aria-busy="true">Reading the GPUs…</p> : null}
      {inventory && inventory.gpus.length === 0 ? (
        <Section title="No GPU found">
          <Empty>
            No display controller on this host qualifies as a GPU to share.
            {inventory.displayControllers.length === 0
              ? ' The PCI bus shows no display controller (class 0x03xx) at all: this may be a VM or container without a GPU passed in.'
              : ` Display controllers seen: ${inventory.displayControllers.map((d) => `${d.address} (${d.driver ?? 'no driver'})`).join(', ')}.`}
          </Empty>
        </Section>
      ) : null}
      {inventory ? (
        <div className="gpu-grid">
          {inventory.gpus.map((gpu) => (
            <GpuCard key={gpu.address} gpu={gpu} />
          ))}
        </div>
      ) : null}
      <Section title="Encoders this ffmpeg build offers">
        {info === null ? (
          <p aria-busy="true">Reading the host…</p>
        ) : ffmpegMissing(info) ? (
          <Empty>{ffmpegMissing(info)}</Empty>
        ) : (
          <dl className="facts">
            <dt>Hardware</dt>
            <dd>{encoders.hardware.join(', ') || 'none'}</dd>
            <dt>Software</dt>
            <dd>{encoders.software.join(', ') || 'none'}</dd>
          </dl>
        )}
        <p className="hint">Listed by ffmpeg; whether a GPU can run a hardware encoder is decided per GPU above.</p>
      </Section>
      {inventory?.warnings.length ? (
        <Section title="Could not read">
          <ul>
            {inventory.warnings.map((warning) => (
              <li key={warning}>{warning}</li>
            ))}
          </ul>
        </Section>
      ) : null}
    </>
  );
}
