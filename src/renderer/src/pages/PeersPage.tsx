import { Empty, Section } from '../components/Section';

export function PeersPage() {
  return (
    <Section title="Paired peers">
      <Empty>No peers are paired. Pair a cloud instance with `gpu-bridge pair &lt;URI&gt;`.</Empty>
    </Section>
  );
}
