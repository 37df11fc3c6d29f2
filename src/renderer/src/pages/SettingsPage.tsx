import { Section } from '../components/Section';
import { useStore } from '../store';
import { selectInfo } from '../store/selectors';
import { UnattendedGnomeToggle } from './sessions/UnattendedGnomeToggle';

export function SettingsPage() {
  const info = useStore(selectInfo);
  return (
    <>
      <Section title="Screen sharing">
        <UnattendedGnomeToggle />
        <p>Off, a GNOME desktop shares through its screen-share portal: the owner approves once, on the workstation. The Sessions page lists which capture sources work on this host.</p>
      </Section>
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
    </>
  );
}
