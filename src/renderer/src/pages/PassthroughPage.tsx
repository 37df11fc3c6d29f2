import { Empty, Section } from '../components/Section';
import { useStore } from '../store';
import { selectInfo } from '../store/selectors';

export function PassthroughPage() {
  const info = useStore(selectInfo);
  return (
    <Section title="VFIO passthrough">
      <dl className="facts">
        <dt>pkexec (for the privileged helper)</dt>
        <dd>{info ? (info.capabilities.pkexec ? 'available' : 'not found') : '…'}</dd>
        <dt>QEMU</dt>
        <dd>{info ? (info.capabilities.qemu ? 'installed' : 'not found') : '…'}</dd>
        <dt>libvirt</dt>
        <dd>{info ? (info.capabilities.libvirt ? 'installed' : 'not found') : '…'}</dd>
      </dl>
      <Empty>The guided passthrough wizard is not part of this build yet.</Empty>
    </Section>
  );
}
