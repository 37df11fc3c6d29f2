import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { parseCompound } from '../../../src/core/rtp/rtcp';
import { rtpClock, VIDEO_CLOCK_RATE } from '../../../src/core/rtp/rtp-clock';
import { MEDIA_PAYLOAD_TYPE, newRtpKeys } from '../../../src/core/rtp/rtp-keys';
import { RtpPeerSender } from '../../../src/core/rtp/rtp-peer-sender';
import { SrtpUnprotector } from '../../../src/core/rtp/srtp-gcm';

describe('the video sender\'s report', () => {
  it('pairs its NTP time with the RTP timestamp of that same instant on the frames\' clock, with or without a frame sent', async () => {
    const keys = newRtpKeys();
    const socket = createSocket('udp4');
    const port = await new Promise<number>((resolve) => socket.bind(0, '127.0.0.1', () => resolve(socket.address().port)));
    const first = new Promise<Buffer>((resolve) => socket.once('message', resolve));
    const sender = new RtpPeerSender({ host: '127.0.0.1', port }, keys, MEDIA_PAYLOAD_TYPE.h264);
    try {
      // start() sends a report at once: no frame has gone yet (the report used to carry timestamp 0 then)
      await sender.start();
      const opened = new SrtpUnprotector(keys.media).unprotectRtcp(await first);
      if ('error' in opened) throw new Error(opened.error);
      const sr = parseCompound(opened.compound)?.find((packet) => packet.type === 'sr');
      if (sr?.type !== 'sr') throw new Error('no sender report in the first RTCP');
      // the NTP fraction keeps sub-microsecond precision: one 90 kHz tick either way at a rounding edge
      expect(Math.abs(((sr.rtpTimestamp - rtpClock(sr.ntpMs, VIDEO_CLOCK_RATE)) | 0))).toBeLessThanOrEqual(1);
    } finally {
      sender.close();
      socket.close();
    }
  });
});
