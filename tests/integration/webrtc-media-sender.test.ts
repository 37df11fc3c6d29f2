import { describe, expect, it } from 'vitest';
import { GenericNack, RTCPeerConnection, RTCRtpCodecParameters, RtcpTransportLayerFeedback, type RtpPacket } from 'werift';
import { WebRtcMediaSender } from '../../src/core/webrtc/webrtc-media-sender';
import { until } from '../helpers/until';

const H264 = () =>
  new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, payloadType: 96, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }], parameters: 'profile-level-id=42e01f;packetization-mode=1' });

/** Two werift peers on loopback: ours sending through WebRtcMediaSender, the other receiving (a real DTLS-SRTP link). */
async function pair() {
  const host = new RTCPeerConnection({ codecs: { video: [H264()] }, iceAdditionalHostAddresses: ['127.0.0.1'], icePortRange: [53000, 53099] });
  const remote = new RTCPeerConnection({ codecs: { video: [H264()] }, iceAdditionalHostAddresses: ['127.0.0.1'] });
  const transceiver = host.addTransceiver('video', { direction: 'sendonly' });
  const received: RtpPacket[] = [];
  remote.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((rtp) => received.push(rtp)));
  await host.setLocalDescription(await host.createOffer());
  await until('the host\'s candidates', () => host.iceGatheringState === 'complete', 5000);
  await remote.setRemoteDescription(host.localDescription!);
  await remote.setLocalDescription(await remote.createAnswer());
  await until('the remote\'s candidates', () => remote.iceGatheringState === 'complete', 5000);
  await host.setRemoteDescription(remote.localDescription!);
  await until('a connected pair', () => host.connectionState === 'connected' && remote.connectionState === 'connected', 10_000);
  return { host, remote, sender: transceiver.sender, received, receiver: remote.getReceivers()[0]! };
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
});
