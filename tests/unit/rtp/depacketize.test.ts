import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { depacketize, isKeyframe, type RtpVideoCodec } from '../../../src/core/rtp/depacketize';

const bytes = (...values: number[]) => Uint8Array.from(values);
const annexB = (...nals: Uint8Array[]) => Buffer.concat(nals.flatMap((nal) => [Buffer.from([0, 0, 0, 1]), nal]));
const sized = (nal: Uint8Array) => [nal.length >> 8, nal.length & 0xff, ...nal];

// H.264 NAL units: header byte F|NRI|type
const SPS = bytes(0x67, 0x42, 0xc0, 0x1e);
const PPS = bytes(0x68, 0xce, 0x3c, 0x80);
const IDR = bytes(0x65, 0x88, 0x84, 0x00, 0x33, 0xff, 0x10, 0x20, 0x30);
const P_SLICE = bytes(0x41, 0x9a, 0x02, 0x03);

// HEVC NAL units: header F|type(6)|layer(6)|tid(3), here layer 0, tid 1
const hevcNal = (type: number, ...body: number[]) => bytes(type << 1, 0x01, ...body);
const VPS = hevcNal(32, 0x0c, 0x01);
const HEVC_SPS = hevcNal(33, 0x01, 0x01, 0x60);
const HEVC_PPS = hevcNal(34, 0xc1, 0x72);
const IDR_W_RADL = hevcNal(19, 0xaf, 0x00, 0x11, 0x22, 0x33, 0x44);

describe('depacketize: H.264 (RFC 6184)', () => {
  it('takes a single NAL unit packet as it is', () => {
    expect(depacketize('h264', [P_SLICE])).toEqual({ data: annexB(P_SLICE), keyframe: false, nalTypes: [1] });
  });

  it('splits a STAP-A and joins FU-A fragments, rebuilding the header from the FU indicator and FU header', () => {
    const stapA = bytes(0x78, ...sized(SPS), ...sized(PPS)); // F=0, NRI=3, type 24
    const indicator = (IDR[0]! & 0xe0) | 28;
    const fuA = [bytes(indicator, 0x80 | 5, ...IDR.subarray(1, 4)), bytes(indicator, 5, ...IDR.subarray(4, 7)), bytes(indicator, 0x40 | 5, ...IDR.subarray(7))];
    const frame = depacketize('h264', [stapA, ...fuA]);
    expect(frame).toEqual({ data: annexB(SPS, PPS, IDR), keyframe: true, nalTypes: [7, 8, 5] });
  });

  it('keeps the NRI of a fragmented non-reference slice', () => {
    const slice = bytes(0x01, 0x9e, 0x01, 0x02); // NRI 0, type 1
    const frame = depacketize('h264', [bytes(28, 0x81, 0x9e), bytes(28, 0x41, 0x01, 0x02)]);
    expect(frame?.data).toEqual(annexB(slice));
  });

  it('skips reserved types 0, 30 and 31', () => {
    expect(depacketize('h264', [bytes(0x00, 1), P_SLICE, bytes(0x1e, 2), bytes(0x1f)])?.nalTypes).toEqual([1]);
  });

  it.each([
    ['no payloads', []],
    ['an empty payload', [bytes()]],
    ['only reserved types', [bytes(0x1e, 1)]],
    ['an FU-A fragment without its start', [bytes(0x7c, 0x05, 1, 2), bytes(0x7c, 0x45, 3)]],
    ['an FU-A whose end is missing', [bytes(0x7c, 0x85, 1, 2), bytes(0x7c, 0x05, 3)]],
    ['an FU-A start while another NAL unit is being joined', [bytes(0x7c, 0x85, 1), bytes(0x7c, 0x85, 2), bytes(0x7c, 0x45, 3)]],
    ['a single NAL unit inside an unfinished FU-A', [bytes(0x7c, 0x85, 1), P_SLICE, bytes(0x7c, 0x45, 3)]],
    ['an FU-A continuing another NAL type', [bytes(0x7c, 0x85, 1), bytes(0x7c, 0x41, 3)]],
    ['an FU-A without an FU header', [bytes(0x7c)]],
    ['an FU-A carrying an aggregate', [bytes(0x7c, 0xd8, 1)]],
    ['a STAP-A size running past the end', [bytes(0x78, 0, 5, 0x67, 1)]],
    ['a STAP-A size of zero', [bytes(0x78, 0, 0, ...sized(SPS))]],
    ['a STAP-A with a stray trailing byte', [bytes(0x78, ...sized(SPS), 0)]],
    ['an empty STAP-A', [bytes(0x78)]],
    ['a STAP-A holding a fragment', [bytes(0x78, 0, 2, 0x7c, 0x85)]],
    ['STAP-B (interleaved mode)', [bytes(0x79, 0, 0, ...sized(SPS))]],
    ['FU-B (interleaved mode)', [bytes(0x7d, 0x85, 0, 0, 1)]],
  ])('%s → null', (_name, payloads) => {
    expect(depacketize('h264', payloads)).toBeNull();
  });
});

describe('depacketize: HEVC (RFC 7798)', () => {
  it('splits an AP and joins FU fragments, rebuilding the 2-byte header with the layer and temporal ids', () => {
    const ap = bytes(48 << 1, 0x01, ...sized(VPS), ...sized(HEVC_SPS), ...sized(HEVC_PPS));
    const fu = (flags: number, ...body: number[]) => bytes(49 << 1, 0x01, flags | 19, ...body);
    const frame = depacketize('hevc', [ap, fu(0x80, ...IDR_W_RADL.subarray(2, 4)), fu(0, ...IDR_W_RADL.subarray(4, 6)), fu(0x40, ...IDR_W_RADL.subarray(6))]);
    expect(frame).toEqual({ data: annexB(VPS, HEVC_SPS, HEVC_PPS, IDR_W_RADL), keyframe: true, nalTypes: [32, 33, 34, 19] });
  });

  it('takes the F bit, layer id and temporal id of a fragmented unit from the payload header', () => {
    // F=0, layer id 0x25 (top bit in byte 0), tid 3
    const nal = bytes((1 << 1) | 0x01, (0x05 << 3) | 3, 0xaa, 0xbb);
    const header = [(49 << 1) | 0x01, (0x05 << 3) | 3];
    expect(depacketize('hevc', [bytes(...header, 0x81, 0xaa), bytes(...header, 0x41, 0xbb)])?.data).toEqual(annexB(nal));
  });

  it('skips PACI', () => {
    const trail = hevcNal(1, 0x10, 0x20);
    expect(depacketize('hevc', [bytes(50 << 1, 0x01, 0, 0, 0), trail])).toEqual({ data: annexB(trail), keyframe: false, nalTypes: [1] });
  });

  it('sees a CRA as a keyframe and a trailing picture as not', () => {
    expect(depacketize('hevc', [hevcNal(21, 0x10)])?.keyframe).toBe(true);
    expect(depacketize('hevc', [hevcNal(1, 0x10)])?.keyframe).toBe(false);
  });

  it.each([
    ['an empty payload', [bytes()]],
    ['a one-byte payload', [bytes(0x02)]],
    ['only PACI', [bytes(50 << 1, 0x01, 0, 0)]],
    ['an FU fragment without its start', [bytes(49 << 1, 0x01, 0x41, 1)]],
    ['an FU whose end is missing', [bytes(49 << 1, 0x01, 0x93, 1), bytes(49 << 1, 0x01, 0x13, 2)]],
    ['an FU without an FU header', [bytes(49 << 1, 0x01)]],
    ['an AP size running past the end', [bytes(48 << 1, 0x01, 0, 9, 0x40, 0x01)]],
    ['an AP entry shorter than a NAL header', [bytes(48 << 1, 0x01, 0, 1, 0x40)]],
    ['an AP with a stray trailing byte', [bytes(48 << 1, 0x01, ...sized(VPS), 7)]],
  ])('%s → null', (_name, payloads) => {
    expect(depacketize('hevc', payloads)).toBeNull();
  });
});

describe('isKeyframe', () => {
  it('H.264: an IDR slice; HEVC: BLA, IDR or CRA (16..21)', () => {
    expect(isKeyframe('h264', [9, 7, 8, 5])).toBe(true);
    expect(isKeyframe('h264', [9, 1])).toBe(false);
    for (let type = 0; type < 48; type += 1) expect(isKeyframe('hevc', [35, type])).toBe(type >= 16 && type <= 21);
  });
});

/** A test packetizer: the NAL units, each alone, aggregated with neighbours, or fragmented. */
function packetize(codec: RtpVideoCodec, nals: Uint8Array[], choices: number[], maxPayload: number): Uint8Array[] {
  const headerBytes = codec === 'h264' ? 1 : 2;
  const payloads: Uint8Array[] = [];
  let aggregate: number[] | null = null;
  const flush = () => {
    if (aggregate) payloads.push(Uint8Array.from(aggregate));
    aggregate = null;
  };
  nals.forEach((nal, index) => {
    const choice = choices[index % choices.length]!;
    if (nal.length + 2 + headerBytes + 2 <= maxPayload && choice === 1) {
      if (aggregate && aggregate.length + 2 + nal.length > maxPayload) flush();
      aggregate ??= codec === 'h264' ? [(nal[0]! & 0xe0) | 24] : [(48 << 1) | (nal[0]! & 0x81), nal[1]!];
      aggregate.push(...sized(nal));
      return;
    }
    flush();
    if (nal.length <= maxPayload && choice === 0) {
      payloads.push(nal);
      return;
    }
    const type = codec === 'h264' ? nal[0]! & 0x1f : (nal[0]! >> 1) & 0x3f;
    const payloadHeader = codec === 'h264' ? [(nal[0]! & 0xe0) | 28] : [(49 << 1) | (nal[0]! & 0x81), nal[1]!];
    const body = nal.subarray(headerBytes);
    const chunk = Math.max(1, maxPayload - payloadHeader.length - 1);
    for (let offset = 0; offset === 0 || offset < body.length; offset += chunk) {
      const flags = (offset === 0 ? 0x80 : 0) | (offset + chunk >= body.length ? 0x40 : 0);
      payloads.push(Uint8Array.from([...payloadHeader, flags | type, ...body.subarray(offset, offset + chunk)]));
    }
  });
  flush();
  return payloads;
}

const nalArbitrary = (codec: RtpVideoCodec) =>
  codec === 'h264'
    ? fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 23 }), fc.uint8Array({ maxLength: 3000 })).map(([nri, type, body]) => Uint8Array.from([(nri << 5) | type, ...body]))
    : fc
        .tuple(fc.integer({ min: 0, max: 47 }), fc.integer({ min: 0, max: 63 }), fc.integer({ min: 1, max: 7 }), fc.uint8Array({ maxLength: 3000 }))
        .map(([type, layer, tid, body]) => Uint8Array.from([(type << 1) | (layer >> 5), ((layer & 0x1f) << 3) | tid, ...body]));

describe.each(['h264', 'hevc'] as const)('depacketize %s, property-based', (codec) => {
  it('gives back the NAL units a packetizer split into single, aggregated and fragmented payloads', () => {
    fc.assert(
      fc.property(
        fc.array(nalArbitrary(codec), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 8, max: 1400 }),
        (nals, choices, maxPayload) => {
          const frame = depacketize(codec, packetize(codec, nals, choices, maxPayload));
          expect(frame?.data).toEqual(annexB(...nals));
          const types = nals.map((nal) => (codec === 'h264' ? nal[0]! & 0x1f : (nal[0]! >> 1) & 0x3f));
          expect(frame?.nalTypes).toEqual(types);
          expect(frame?.keyframe).toBe(isKeyframe(codec, types));
        },
      ),
    );
  });

  it('never throws on arbitrary payloads, and what it returns is Annex B', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (payloads) => {
        const frame = depacketize(codec, payloads);
        if (frame) {
          expect(frame.data.subarray(0, 4)).toEqual(Buffer.from([0, 0, 0, 1]));
          expect(frame.nalTypes.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on arbitrary payloads that look like its aggregates and fragments', () => {
    const header = codec === 'h264' ? fc.constantFrom([0x78], [0x7c], [0x65]) : fc.constantFrom([0x60, 0x01], [0x62, 0x01], [0x64, 0x01], [0x26, 0x01]);
    const payload = fc.tuple(header, fc.uint8Array({ maxLength: 40 })).map(([head, body]) => Uint8Array.from([...head, ...body]));
    fc.assert(
      fc.property(fc.array(payload, { maxLength: 8 }), (payloads) => {
        expect(() => depacketize(codec, payloads)).not.toThrow();
      }),
      { numRuns: 2000 },
    );
  });
});
