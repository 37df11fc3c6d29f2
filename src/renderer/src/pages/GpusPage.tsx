import { Empty, Section } from '../components/Section';
import { useStore } from '../store';
import { encoderSummary, selectInfo } from '../store/selectors';

export function GpusPage() {
  const info = useStore(selectInfo);
  const encoders = encoderSummary(info);
  return (
    <>
      <Section title="Encoders this ffmpeg build offers">
        {info === null ? (
          <p aria-busy="true">Reading the host…</p>
        ) : !info.capabilities.ffmpeg ? (
          <Empty>ffmpeg is not installed: install it (Debian: apt install ffmpeg) to stream.</Empty>
        ) : (
          <dl className="facts">
            <dt>Hardware</dt>
            <dd>{encoders.hardware.join(', ') || 'none'}</dd>
            <dt>Software</dt>
            <dd>{encoders.software.join(', ') || 'none'}</dd>
          </dl>
        )}
        <p className="hint">Listed by ffmpeg; whether a GPU can actually run a hardware encoder is decided per GPU by the inventory.</p>
      </Section>
      <Section title="GPU inventory">
        <Empty>The per-GPU inventory (PCI, IOMMU group, driver, memory, encoders) is not available on this host yet.</Empty>
      </Section>
    </>
  );
}
