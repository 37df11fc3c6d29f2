import { Section } from '../components/Section';
import { useStore } from '../store';
import { selectInfo } from '../store/selectors';

export function SettingsPage() {
  const info = useStore(selectInfo);
  return (
    <Section title="About">
      <dl className="facts">
        <dt>Version</dt>
        <dd>{info?.version ?? '…'}</dd>
        <dt>Shell</dt>
        <dd>{info?.shell ?? '…'}</dd>
        <dt>Theme</dt>
        <dd>Follows the operating system (light or dark).</dd>
        <dt>Started</dt>
        <dd>{info ? new Date(info.startedAt).toLocaleString() : '…'}</dd>
      </dl>
    </Section>
  );
}
