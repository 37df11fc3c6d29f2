import { Empty, Section } from '../components/Section';
import { SharingToggle } from '../components/SharingToggle';
import { useStore } from '../store';
import { selectSessions } from '../store/selectors';
import { SelftestPanel } from './sessions/SelftestPanel';
import { SessionCard } from './sessions/SessionCard';
import { StartSessionForm } from './sessions/StartSessionForm';
import { ApprovalBanner, CaptureSourcesPanel } from './sessions/CaptureSourcesPanel';
import { useCaptureSources } from './sessions/use-capture-sources';

export function SessionsPage() {
  const sessions = useStore(selectSessions);
  const capture = useCaptureSources();
  return (
    <>
      <Section title="Sharing">
        <SharingToggle />
      </Section>
      <Section title="Start a session">
        <ApprovalBanner />
        <StartSessionForm sources={capture.sources} />
      </Section>
      <Section title="Capture sources">
        <CaptureSourcesPanel {...capture} />
      </Section>
      <Section title="Streaming sessions">
        {sessions === null ? (
          <p aria-busy="true">Reading the sessions…</p>
        ) : sessions.length === 0 ? (
          <Empty>No sessions. Start one above, or let a paired peer with the view scope request one while sharing is on.</Empty>
        ) : (
          sessions.map((session) => <SessionCard key={session.id} session={session} />)
        )}
      </Section>
      <Section title="How fast is this machine?">
        <SelftestPanel sources={capture.sources} />
      </Section>
    </>
  );
}
