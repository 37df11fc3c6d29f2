import { describe, expect, it } from 'vitest';
import { GenericNack, RTCPeerConnection, RTCRtpCodecParameters, RtcpTransportLayerFeedback, type RtpPacket } from 'werift';
import { WebRtcMediaSender } from '../../src/core/webrtc/webrtc-media-sender';
import { until } from '../helpers/until';

const H264 = (payloadType = 96, profileLevelId = '42e01f') =>
  new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, payloadType, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }], parameters: `profile-level-id=${profileLevelId};packetization-mode=1` });
/** The viewer's offer: constrained baseline, baseline, main. */
const OFFERED = () => [H264(96, '42e01f'), H264(97, '42001f'), H264(98, '4d001f')];

/** An answer that accepts only `keep` of the offered payload types (as a browser that decodes only those answers). */
function acceptOnly(sdp: string, keep: number[]): string {
  return sdp
    .split('\r\n')
    .filter((line) => {
      const pt = /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+) /.exec(line)?.[1];
      return pt === undefined || keep.includes(Number(pt));
    })
    .map((line) => (line.startsWith('m=video ') ? `${line.split(' ').slice(0, 3).join(' ')} ${keep.join(' ')}` : line))
    .join('\r\n');
}

/** Two werift peers on loopback: ours sending through WebRtcMediaSender, the other receiving (a real DTLS-SRTP link). */
async function pair(codecs = () => [H264()], answer: (sdp: string) => string = (sdp) => sdp) {
  const host = new RTCPeerConnection({ codecs: { video: codecs() }, iceAdditionalHostAddresses: ['127.0.0.1'], icePortRange: [53000, 53099] });
  const remote = new RTCPeerConnection({ codecs: { video: codecs() }, iceAdditionalHostAddresses: ['127.0.0.1'] });
  const transceiver = host.addTransceiver('video', { direction: 'sendonly' });
  const received: RtpPacket[] = [];
  remote.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((rtp) => received.push(rtp)));
  await host.setLocalDescription(await host.createOffer());
  await until('the host\'s candidates', () => host.iceGatheringState === 'complete', 5000);
  await remote.setRemoteDescription(host.localDescription!);
  await remote.setLocalDescription(await remote.createAnswer());
  await until('the remote\'s candidates', () => remote.iceGatheringState === 'complete', 5000);
  await host.setRemoteDescription({ type: 'answer', sdp: answer(remote.localDescription!.sdp) });
  await until('a connected pair', () => host.connectionState === 'connected' && remote.connectionState === 'connected', 10_000);
  return { host, remote, sender: transceiver.sender, received, receiver: remote.getReceivers()[0]!, accepted: () => transceiver.codecs };
}

describe('WebRtcMediaSender over a real werift link (loopback)', () => {
  it('answers a NACK for a packet older than werift\'s 128 from its own history, refuses one older than the history, and turns PLIs into at most one keyframe request per 250 ms', async () => {
    const { host, remote, sender, received, receiver } = await pair();
    try {
      // 500 kbit/s: the history's floor of 1024 packets
      const media = new WebRtcMediaSender(sender, 500, () => null);
      const keyframes: number[] = [];
      media.on('keyframe', () => keyframes.push(Date.now()));
      media.connectedNow(); // asks for the first keyframe itself
      expect(keyframes).toHaveLength(1);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const payload = Buffer.alloc(1000, 7);
      for (let i = 0; i < 1500; i += 1) {
        media.packet(payload, i % 10 === 9, i % 10 === 0, 90 * Math.floor(i / 10));
        // paced (a burst of 1500 would overflow the loopback socket's buffer)
        if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 2));
      }
      await until('the packets at the remote', () => received.length >= 1400, 10_000);
      const sentSeqs = received.map((p) => p.header.sequenceNumber);
      const last = sentSeqs.at(-1)!;
      const old = (last - 600 + 0x10000) & 0xffff; // beyond werift's 128, within our 1024
      const tooOld = (last - 1400 + 0x10000) & 0xffff; // beyond our history too
      const before = received.length;
      const counted = { ...media.counters };
      const nack = new RtcpTransportLayerFeedback({ feedback: new GenericNack({ senderSsrc: 1, mediaSourceSsrc: sender.ssrc, lost: [old, tooOld] }) });
      await receiver.dtlsTransport.sendRtcp([nack]);
      await until('the resent packet', () => received.slice(before).some((p) => p.header.sequenceNumber === old), 5000);
      expect(received.slice(before).some((p) => p.header.sequenceNumber === tooOld)).toBe(false);
      expect(media.counters.nacksReceived - counted.nacksReceived).toBe(1);
      expect(media.counters.retransmitted - counted.retransmitted).toBe(1);
      expect(media.counters.notResent - counted.notResent).toBe(1);
      // the browser repeats its PLI until a keyframe arrives: one request per 250 ms goes through
      await new Promise((resolve) => setTimeout(resolve, 300));
      for (let i = 0; i < 5; i += 1) await receiver.sendRtcpPLI(sender.ssrc);
      await until('the PLIs at the host', () => media.counters.keyframeRequests >= counted.keyframeRequests + 5, 5000);
      expect(keyframes).toHaveLength(2);
      media.close();
    } finally {
      await host.close();
      await remote.close();
    }
  });

  // synthetic payloads: an SPS NAL's first bytes (libx264's constrained baseline, and a main one as NVENC sends), then slices
  const SPS_CONSTRAINED_BASELINE = Buffer.from('6742c02091a01401', 'hex');
  const SPS_MAIN = Buffer.from('674d402a95a81e00', 'hex');
  const sendFrames = async (media: WebRtcMediaSender, sps: Buffer) => {
    for (let frame = 0; frame < 20; frame += 1) {
      media.packet(frame === 0 ? sps : Buffer.from([0x41, frame]), false, true, 1500 * frame);
      media.packet(Buffer.from([0x41, 0x9a, frame]), true, false, 1500 * frame);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  it('a browser that accepted only main (or only baseline) gets the constrained-baseline stream under that payload type', async () => {
    for (const pt of [98, 97]) {
      const { host, remote, sender, received, accepted } = await pair(OFFERED, (sdp) => acceptOnly(sdp, [pt]));
      try {
        expect(accepted().map((c) => c.payloadType)).toEqual([pt]);
        const media = new WebRtcMediaSender(sender, 500, () => null, null, accepted);
        media.connectedNow();
        await sendFrames(media, SPS_CONSTRAINED_BASELINE);
        await until('the packets at the remote', () => received.length >= 40, 5000);
        expect(new Set(received.map((p) => p.header.payloadType))).toEqual(new Set([pt]));
        expect(media.profileLevelId).toBe('42c020');
        media.close();
      } finally {
        await host.close();
        await remote.close();
      }
    }
  });

  it('with all three accepted, a main stream goes under main\'s payload type; with only the baselines accepted, it is refused with why and nothing is sent', async () => {
    let { host, remote, sender, received, accepted } = await pair(OFFERED);
    try {
      const media = new WebRtcMediaSender(sender, 500, () => null, null, accepted);
      media.connectedNow();
      await sendFrames(media, SPS_MAIN);
      await until('the packets at the remote', () => received.length >= 40, 5000);
      expect(new Set(received.map((p) => p.header.payloadType))).toEqual(new Set([98]));
      media.close();
    } finally {
      await host.close();
      await remote.close();
    }
    ({ host, remote, sender, received, accepted } = await pair(OFFERED, (sdp) => acceptOnly(sdp, [96, 97])));
    try {
      const media = new WebRtcMediaSender(sender, 500, () => null, null, accepted);
      const unfit: string[] = [];
      media.on('unfit', (why: string) => unfit.push(why));
      media.connectedNow();
      await sendFrames(media, SPS_MAIN);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(unfit).toEqual(['the encoder sends H.264 main (4d402a); this browser accepted only constrained-baseline (42e01f), baseline (42001f)']);
      expect(received).toEqual([]);
      expect(media.counters.packetsSent).toBe(0);
    } finally {
      await host.close();
      await remote.close();
    }
  });
});
