import { Empty, Section } from '../components/Section';
import { SharingToggle } from '../components/SharingToggle';

export function SessionsPage() {
  return (
    <>
      <Section title="Sharing">
        <SharingToggle />
      </Section>
      <Section title="Streaming sessions">
        <Empty>No sessions. Streaming to paired peers is not part of this build yet.</Empty>
      </Section>
    </>
  );
}
