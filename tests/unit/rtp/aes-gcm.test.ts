import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { gcmBackend, gcmForKey, GCM_TAG_BYTES } from '../../../src/core/rtp/aes-gcm';
import { buildSenderReport, compound } from '../../../src/core/rtp/rtcp';
import { newMaster, SrtpProtector, SrtpUnprotector } from '../../../src/core/rtp/srtp-gcm';

const openssl = gcmBackend() === 'openssl';
if (!openssl) console.warn('SKIP the OpenSSL AES-GCM checks: koffi or OpenSSL\'s EVP functions are not loadable here, node:crypto does the work');

const header = (seq: number) => ({ marker: seq % 5 === 0, payloadType: 96, seq, timestamp: seq * 1500, ssrc: 0x01020304 });

describe('AES-256-GCM with a kept OpenSSL context, and node:crypto', () => {
  it.skipIf(!openssl)('seals and opens byte for byte as node:crypto does, at every length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 1500 }), fc.uint8Array({ minLength: 0, maxLength: 40 }), (plaintext, aad) => {
        const key = randomBytes(32);
        const iv = randomBytes(12);
        const native = gcmForKey(key, 'openssl');
        const node = gcmForKey(key, 'node');
        expect(native.backend).toBe('openssl');
        const [a, b] = [new Uint8Array(plaintext.length), new Uint8Array(plaintext.length)];
        const [tagA, tagB] = [new Uint8Array(GCM_TAG_BYTES), new Uint8Array(GCM_TAG_BYTES)];
        native.sealer.seal(iv, aad, plaintext, a, tagA);
        node.sealer.seal(iv, aad, plaintext, b, tagB);
        expect(a).toEqual(b);
        expect(tagA).toEqual(tagB);
        for (const opener of [native.opener, node.opener]) {
          const out = new Uint8Array(plaintext.length);
          expect(opener.open(iv, aad, a, out, tagA)).toBe(true);
          expect(out).toEqual(plaintext);
          const forged = Uint8Array.from(tagA);
          forged[forged.length - 1] = forged[forged.length - 1]! ^ 0x80;
          expect(opener.open(iv, aad, a, out, forged)).toBe(false);
          expect(opener.open(iv, aad, a, out, tagA.subarray(0, 12))).toBe(false);
        }
      }),
      { numRuns: 150 },
    );
  });

  it.skipIf(!openssl)('decrypts in place, into the ciphertext\'s own memory at an offset', () => {
    const key = randomBytes(32);
    const { sealer, opener } = gcmForKey(key, 'openssl');
    const iv = randomBytes(12);
    const plaintext = randomBytes(777);
    const packet = Buffer.alloc(5 + 777 + GCM_TAG_BYTES);
    sealer.seal(iv, Buffer.of(1, 2), plaintext, packet.subarray(5, 782), packet.subarray(782));
    const view = packet.subarray(5, 782);
    expect(opener.open(iv, Buffer.of(1, 2), view, view, packet.subarray(782))).toBe(true);
    expect(view.equals(plaintext)).toBe(true);
  });

  it('SRTP and SRTCP from either backend open with the other, and in place', () => {
    const master = newMaster();
    const backends = openssl ? (['openssl', 'node'] as const) : (['node'] as const);
    for (const sending of backends) {
      for (const receiving of backends) {
        const protector = new SrtpProtector(master, { backend: sending });
        const unprotector = new SrtpUnprotector(master, { backend: receiving });
        expect(protector.backend).toBe(sending);
        expect(unprotector.backend).toBe(receiving);
        for (let seq = 100; seq < 140; seq += 1) {
          const payload = randomBytes(seq * 7);
          const packet = protector.protectRtp(header(seq), payload);
          const opened = unprotector.unprotectRtp(packet, { inPlace: seq % 2 === 0 });
          expect('error' in opened).toBe(false);
          if (!('error' in opened)) expect(opened.payload.equals(payload)).toBe(true);
        }
        const rtcp = compound([buildSenderReport({ ssrc: 0x01020304, ntpMs: 1000, rtpTimestamp: 5, packetCount: 1, octetCount: 2 })]);
        const opened = unprotector.unprotectRtcp(protector.protectRtcp(rtcp));
        expect('error' in opened ? opened.error : opened.compound.equals(rtcp)).toBe(true);
      }
    }
  });

  it('in place: a forged packet is refused (its bytes garbled), and the genuine one still opens after it', () => {
    const master = newMaster();
    const protector = new SrtpProtector(master);
    const unprotector = new SrtpUnprotector(master);
    expect('error' in unprotector.unprotectRtp(protector.protectRtp(header(1), randomBytes(50)), { inPlace: true })).toBe(false);
    const payload = randomBytes(300);
    const genuine = protector.protectRtp(header(2), payload);
    const forged = Buffer.from(genuine);
    forged[forged.length - 1] = forged[forged.length - 1]! ^ 1;
    expect(unprotector.unprotectRtp(forged, { inPlace: true })).toEqual({ error: 'auth' });
    const opened = unprotector.unprotectRtp(genuine, { inPlace: true });
    expect('error' in opened ? opened.error : opened.payload.equals(payload)).toBe(true);
  });

  it('GPU_BRIDGE_RTP_CRYPTO=node turns the OpenSSL path off', async () => {
    vi.stubEnv('GPU_BRIDGE_RTP_CRYPTO', 'node');
    vi.resetModules();
    try {
      const fresh = await import('../../../src/core/rtp/aes-gcm');
      expect(fresh.gcmBackend()).toBe('node');
    } finally {
      vi.unstubAllEnvs();
      vi.resetModules();
    }
  });
});
