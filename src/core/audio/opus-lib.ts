import { createRequire } from 'node:module';

/**
 * libopus called directly (koffi): the host encodes 10 ms frames with in-band FEC as they are captured,
 * and the peer decodes, recovers a lost frame from the next one's FEC, or conceals it (PLC), deciding
 * frame by frame (ffmpeg's CLI can do neither at this granularity). Null with a reason where libopus
 * (Debian: libopus0, which ffmpeg depends on) cannot be loaded.
 */
export const OPUS_RATE = 48_000;
export const OPUS_CHANNELS = 2;
/** 10 ms at 48 kHz: the frame the host encodes and the peer plays. */
export const FRAME_SAMPLES = 480;
export const FRAME_MS = 10;
/** s16le stereo bytes in one frame. */
export const FRAME_BYTES = FRAME_SAMPLES * OPUS_CHANNELS * 2;
/** The most one packet may hold (RFC 6716 caps a frame at 1275 bytes per stream). */
const MAX_PACKET_BYTES = 1500;

/**
 * AUDIO, not RESTRICTED_LOWDELAY: the latter is CELT-only, and in-band FEC (LBRR) exists only in the SILK
 * layer; with FEC on and a loss rate set, libopus 1.3 codes hybrid (SILK + CELT) at 96 kbit/s stereo.
 */
const OPUS_APPLICATION_AUDIO = 2049;
const OPUS_SET_BITRATE = 4002;
const OPUS_SET_INBAND_FEC = 4012;
const OPUS_SET_PACKET_LOSS_PERC = 4014;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- koffi's functions take and return what the signature says
type KoffiFn = (...args: any[]) => any;
interface KoffiLibrary {
  func(signature: string): KoffiFn;
}

interface OpusLib {
  encoderCreate: KoffiFn;
  encoderCtl: KoffiFn;
  encode: KoffiFn;
  encoderDestroy: KoffiFn;
  decoderCreate: KoffiFn;
  decode: KoffiFn;
  decoderDestroy: KoffiFn;
}

let loaded: { lib: OpusLib } | { error: string } | undefined;

function load(): OpusLib {
  if (!loaded) {
    try {
      const koffi = createRequire(import.meta.url)('koffi') as { load(path: string): KoffiLibrary };
      const lib = koffi.load('libopus.so.0');
      loaded = {
        lib: {
          encoderCreate: lib.func('void *opus_encoder_create(int32_t Fs, int channels, int application, _Out_ int *error)'),
          encoderCtl: lib.func('int opus_encoder_ctl(void *st, int request, ...)'),
          encode: lib.func('int32_t opus_encode(void *st, const int16_t *pcm, int frame_size, _Out_ uint8_t *data, int32_t max_data_bytes)'),
          encoderDestroy: lib.func('void opus_encoder_destroy(void *st)'),
          decoderCreate: lib.func('void *opus_decoder_create(int32_t Fs, int channels, _Out_ int *error)'),
          decode: lib.func('int opus_decode(void *st, const uint8_t *data, int32_t len, _Out_ int16_t *pcm, int frame_size, int decode_fec)'),
          decoderDestroy: lib.func('void opus_decoder_destroy(void *st)'),
        },
      };
    } catch (error) {
      loaded = { error: `libopus cannot be loaded (${(error as Error).message.split('\n')[0]}): install libopus0` };
    }
  }
  if ('error' in loaded) throw new Error(loaded.error);
  return loaded.lib;
}

/** Why Opus is not available here, or null. */
export function opusUnavailable(): string | null {
  try {
    load();
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/** RFC 6716 §3.1: TOC configurations 0–15 are SILK-only or hybrid, the modes with in-band FEC. */
export function mayCarryFec(packet: Buffer): boolean {
  return packet.length > 0 && packet[0]! >> 3 < 16;
}

export class OpusEncoder {
  private readonly lib = load();
  private state: unknown;
  private readonly out = Buffer.alloc(MAX_PACKET_BYTES);

  /** `lossPercent`: the loss FEC is sized for (libopus spends bits on it only when this is above 0). */
  constructor(options: { bitrate?: number; lossPercent?: number } = {}) {
    const error = [0];
    this.state = this.lib.encoderCreate(OPUS_RATE, OPUS_CHANNELS, OPUS_APPLICATION_AUDIO, error);
    if (!this.state || error[0] !== 0) throw new Error(`opus_encoder_create failed (${error[0]})`);
    this.lib.encoderCtl(this.state, OPUS_SET_BITRATE, 'int', options.bitrate ?? 96_000);
    this.lib.encoderCtl(this.state, OPUS_SET_INBAND_FEC, 'int', 1);
    this.lib.encoderCtl(this.state, OPUS_SET_PACKET_LOSS_PERC, 'int', options.lossPercent ?? 10);
  }

  /** One 10 ms frame of s16le stereo (FRAME_BYTES) -> one Opus packet. */
  encode(pcm: Buffer): Buffer {
    if (!this.state) throw new Error('the Opus encoder is closed');
    if (pcm.length !== FRAME_BYTES) throw new RangeError(`an Opus frame here is ${FRAME_BYTES} bytes of PCM, got ${pcm.length}`);
    const samples = new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2);
    const aligned = pcm.byteOffset % 2 === 0 ? samples : new Int16Array(Uint8Array.from(pcm).buffer);
    const bytes = this.lib.encode(this.state, aligned, FRAME_SAMPLES, this.out, MAX_PACKET_BYTES) as number;
    if (bytes < 0) throw new Error(`opus_encode failed (${bytes})`);
    return Buffer.from(this.out.subarray(0, bytes));
  }

  close(): void {
    if (this.state) this.lib.encoderDestroy(this.state);
    this.state = null;
  }
}

export class OpusDecoder {
  private readonly lib = load();
  private state: unknown;
  private readonly pcm = new Int16Array(FRAME_SAMPLES * OPUS_CHANNELS);

  constructor() {
    const error = [0];
    this.state = this.lib.decoderCreate(OPUS_RATE, OPUS_CHANNELS, error);
    if (!this.state || error[0] !== 0) throw new Error(`opus_decoder_create failed (${error[0]})`);
  }

  /** A received packet -> one frame of s16le stereo. Null when the packet does not decode (it is then concealed). */
  decode(packet: Buffer): Buffer | null {
    return this.run(packet, 0);
  }

  /**
   * The frame before `next`, from the FEC data `next` carries; null when it can carry none (a CELT-only
   * packet: libopus would return concealment, which must not be counted as a recovery).
   */
  recover(next: Buffer): Buffer | null {
    return mayCarryFec(next) ? this.run(next, 1) : null;
  }

  /** A frame of concealment (packet loss concealment: the decoder extrapolates). */
  conceal(): Buffer {
    return this.run(null, 0) ?? Buffer.alloc(FRAME_BYTES);
  }

  private run(packet: Buffer | null, fec: 0 | 1): Buffer | null {
    if (!this.state) throw new Error('the Opus decoder is closed');
    const samples = this.lib.decode(this.state, packet, packet?.length ?? 0, this.pcm, FRAME_SAMPLES, fec) as number;
    if (samples !== FRAME_SAMPLES) return null;
    return Buffer.from(this.pcm.buffer.slice(0));
  }

  close(): void {
    if (this.state) this.lib.decoderDestroy(this.state);
    this.state = null;
  }
}
