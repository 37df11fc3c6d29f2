/**
 * RTP video payloads → Annex B: RFC 6184 (H.264, non-interleaved mode) and RFC 7798 (HEVC, no DONL),
 * the two formats ffmpeg's RTP muxer writes.
 */
export type RtpVideoCodec = 'h264' | 'hevc';

export interface DepacketizedFrame {
  /** Annex B: each NAL unit behind a 4-byte start code. */
  data: Buffer;
  keyframe: boolean;
  /** The NAL unit types, in the order they appear in `data`. */
  nalTypes: number[];
}

const START_CODE = Buffer.from([0, 0, 0, 1]);

const FU_START = 0x80;
const FU_END = 0x40;

/** How one codec's payload format lays out its NAL unit headers and packet kinds. */
interface PayloadFormat {
  /** Bytes of the NAL unit header; the payload header of an aggregate or fragment is as long. */
  headerBytes: number;
  nalType(header: Uint8Array): number;
  /** A NAL unit that may travel alone (or inside an aggregate, or as the content of a fragment). */
  isNal(type: number): boolean;
  aggregationType: number;
  fragmentationType: number;
  /** Types a receiver skips (reserved, PACI); anything else not listed is a mode we do not take. */
  isIgnored(type: number): boolean;
  fuNalType(fuHeader: number): number;
  /** The NAL unit header that the fragments' payload header and FU header stand for. */
  rebuildHeader(payload: Uint8Array, fuType: number): Uint8Array;
}

const H264: PayloadFormat = {
  headerBytes: 1,
  nalType: (header) => header[0]! & 0x1f,
  isNal: (type) => type >= 1 && type <= 23,
  aggregationType: 24, // STAP-A
  fragmentationType: 28, // FU-A
  // 25-27 and 29 (STAP-B, MTAP, FU-B) belong to the interleaved mode, which ffmpeg never sends
  isIgnored: (type) => type === 0 || type >= 30,
  fuNalType: (fuHeader) => fuHeader & 0x1f,
  // F and NRI come from the FU indicator
  rebuildHeader: (payload, fuType) => Uint8Array.of((payload[0]! & 0xe0) | fuType),
};

const HEVC: PayloadFormat = {
  headerBytes: 2,
  nalType: (header) => (header[0]! >> 1) & 0x3f,
  isNal: (type) => type <= 47,
  aggregationType: 48, // AP
  fragmentationType: 49, // FU
  isIgnored: (type) => type >= 50, // 50 is PACI, 51-63 are unspecified
  fuNalType: (fuHeader) => fuHeader & 0x3f,
  // F, the layer id and the temporal id come from the payload header
  rebuildHeader: (payload, fuType) => Uint8Array.of((payload[0]! & 0x81) | (fuType << 1), payload[1]!),
};

/** A frame is a clean starting point for a decoder: H.264 contains an IDR slice; HEVC an IRAP picture (BLA, IDR, CRA). */
export function isKeyframe(codec: RtpVideoCodec, nalTypes: readonly number[]): boolean {
  return codec === 'h264' ? nalTypes.includes(5) : nalTypes.some((type) => type >= 16 && type <= 21);
}

/**
 * The RTP payloads of one access unit (in sequence order) → Annex B. Takes single NAL units, STAP-A and
 * FU-A (H.264), AP and FU (HEVC); skips PACI and reserved types. Null when malformed: a fragment without
 * its start, a fragmented NAL unit left unfinished, aggregate lengths that do not add up, nothing to
 * decode. Never throws.
 */
export function depacketize(codec: RtpVideoCodec, payloads: readonly Uint8Array[]): DepacketizedFrame | null {
  const format = codec === 'h264' ? H264 : HEVC;
  const parts: Uint8Array[] = [];
  const nalTypes: number[] = [];
  // the type of the NAL unit whose fragments are being joined, or null between NAL units
  let fragmentType: number | null = null;

  const pushNal = (nal: Uint8Array): boolean => {
    if (nal.length < format.headerBytes) return false;
    const type = format.nalType(nal);
    if (!format.isNal(type)) return false;
    parts.push(START_CODE, nal);
    nalTypes.push(type);
    return true;
  };

  for (const payload of payloads) {
    if (payload.length < format.headerBytes) return null;
    const type = format.nalType(payload);
    if (type === format.fragmentationType) {
      if (payload.length < format.headerBytes + 1) return null;
      const fuHeader = payload[format.headerBytes]!;
      const fuType = format.fuNalType(fuHeader);
      const content = payload.subarray(format.headerBytes + 1);
      if (fuHeader & FU_START) {
        if (fragmentType !== null || !format.isNal(fuType)) return null;
        fragmentType = fuType;
        parts.push(START_CODE, format.rebuildHeader(payload, fuType), content);
        nalTypes.push(fuType);
      } else {
        if (fragmentType !== fuType) return null;
        parts.push(content);
      }
      // start and end in one fragment breaks the RFCs' rule but is a whole NAL unit all the same
      if (fuHeader & FU_END) fragmentType = null;
      continue;
    }
    if (fragmentType !== null) return null;
    if (type === format.aggregationType) {
      if (!readAggregate(payload, format.headerBytes, pushNal)) return null;
    } else if (format.isNal(type)) {
      pushNal(payload);
    } else if (!format.isIgnored(type)) {
      return null;
    }
  }
  if (fragmentType !== null || nalTypes.length === 0) return null;
  return { data: Buffer.concat(parts), keyframe: isKeyframe(codec, nalTypes), nalTypes };
}

/** STAP-A / AP: after the payload header, NAL units each behind a 16-bit size. False when the sizes do not fit the payload. */
function readAggregate(payload: Uint8Array, headerBytes: number, pushNal: (nal: Uint8Array) => boolean): boolean {
  let offset = headerBytes;
  if (offset >= payload.length) return false;
  while (offset < payload.length) {
    if (offset + 2 > payload.length) return false;
    const size = (payload[offset]! << 8) | payload[offset + 1]!;
    offset += 2;
    if (size === 0 || offset + size > payload.length) return false;
    if (!pushNal(payload.subarray(offset, offset + size))) return false;
    offset += size;
  }
  return true;
}
