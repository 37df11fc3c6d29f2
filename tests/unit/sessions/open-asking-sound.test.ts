// A host asking for sound meets a peer older than sound on that transport: the peer's contract has no
// `audio` there and refuses the whole stream.open (INVALID_REQUEST, as its control channel answers a
// message it cannot read). The stand-in for that peer parses with the contract of that version (today's,
// less the field), which is all that version's answer depends on.
import { describe, expect, it } from 'vitest';
import { RtpStreamOpen, SrtStreamOpen, StreamMessage } from '../../../src/shared/contract/peers';
import { MessageViewerLink } from '../../../src/core/sessions/message-viewer-link';
import { OLDER_PEER_NO_SOUND, openAskingSound } from '../../../src/core/sessions/open-asking-sound';
import { OpenNotUnderstood } from '../../../src/core/sessions/viewer-link';

const OLDER = { rtp: RtpStreamOpen.omit({ audio: true }).strict(), srt: SrtStreamOpen.omit({ audio: true }).strict() };
const KEY = `${'A'.repeat(59)}=`;

/** A viewer link to a peer of the version before sound, or of today's (`older` false), answering at once. */
function peer(older: boolean, soundNote?: string): { link: MessageViewerLink; asked: StreamMessage[] } {
  const asked: StreamMessage[] = [];
  const link: MessageViewerLink = new MessageViewerLink({
    name: older ? 'old peer' : 'peer',
    host: '192.0.2.10',
    clock: () => ({ offsetMs: 0, rttMs: 1 }),
    openTimeoutMs: 60_000,
    send: (message) => {
      asked.push(message);
      if (message.type !== 'stream.open') return;
      const schema = older ? OLDER[message.transport ?? 'rtp'] : StreamMessage;
      queueMicrotask(() => {
        if (!schema.safeParse(message).success) return link.refused('INVALID_REQUEST', 'unknown or malformed message of type stream.open');
        if (soundNote) link.receive({ type: 'stream.audio', streamId: message.streamId, why: soundNote });
        link.receive({ type: 'stream.ready', streamId: message.streamId, port: 5004 });
      });
    },
  });
  return { link, asked };
}

const rtp = { streamId: '0b7e2a4c-1d5e-4c3b-9a8f-2e6d7c5b4a39', transport: 'rtp' as const, rtpKeys: { media: KEY, feedback: KEY }, latencyMs: 0, codec: 'h264' as const, width: 1280, height: 720, fps: 60 };
const srt = { streamId: '1c8f3b5d-2e6f-4d4c-8b9a-3f7e8d6c5b4a', transport: 'srt' as const, passphrase: 'A'.repeat(32), latencyMs: 40, codec: 'h264' as const, width: 1280, height: 720, fps: 60 };

describe('opening a viewer asking for sound', () => {
  it('an older peer refuses the request with sound: asked again without it, it gets the picture, and the host can say why it hears nothing', async () => {
    for (const request of [rtp, srt]) {
      const { link, asked } = peer(true);
      const where = await openAskingSound(link, { ...request, audio: true });
      expect(where).toEqual({ host: '192.0.2.10', port: 5004, audioWhy: OLDER_PEER_NO_SOUND });
      expect(asked.map((message) => 'audio' in message)).toEqual([true, false]);
    }
  });

  it('a peer of today is asked once, and what it says of the sound comes with its answer', async () => {
    const { link, asked } = peer(false, 'counted, not played: this peer has no sound output');
    const where = await openAskingSound(link, { ...srt, audio: true });
    expect(where).toEqual({ host: '192.0.2.10', port: 5004, audioWhy: 'counted, not played: this peer has no sound output' });
    expect(asked).toHaveLength(1);
  });

  it('a refusal of a request without sound is not retried: it fails at once, not at the open timeout', async () => {
    const { link, asked } = peer(false);
    const bad = { ...rtp, width: 100 };
    const failure = await openAskingSound(link, bad).catch((error: Error) => error);
    expect(failure).toBeInstanceOf(OpenNotUnderstood);
    expect((failure as Error).message).toMatch(/^peer could not read the stream\.open .*older gpu-bridge/);
    // (the link's own timeout is a minute, past the test's: only the refusal can have ended the wait)
    expect(asked).toHaveLength(1);
  });
});
