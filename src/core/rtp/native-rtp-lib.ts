/**
 * The native rtp data plane (native/rtp/, built into libgpubridge-rtp.so by scripts/build-native.mjs,
 * shipped beside the peer's executable in its tarball), bound through koffi. Where it is missing, cannot
 * load, or GPU_BRIDGE_RTP_NATIVE=off, the reason says why and the JavaScript receiver does the work.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const LIBRARY = 'libgpubridge-rtp.so';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- koffi's functions take and return what the signature says
type Native = (...args: any[]) => any;

interface Koffi {
  load(path: string): { func(signature: string): Native };
  struct(name: string, fields: Record<string, string | object>): object;
}

export interface NativeRxStats {
  originals: number;
  expected: number;
  highest: number;
  media_ssrc: number;
  rejected: number;
  last_authentic_at: number;
  events_dropped: number;
  decoder_frames_dropped: number;
  now: number;
  assembler: {
    frames_delivered: number;
    frames_lost: number;
    frames_skipped: number;
    fec_recovered: number;
    nack_recovered: number;
    nacks_sent: number;
    keyframe_requests: number;
    clean_count: number;
  };
}

export interface NativeGaugeSecond {
  has_queue_delay: boolean;
  queue_delay_ms: number;
  received_kbps: number;
  has_train: boolean;
  train_kbps: number;
}

/** The receiver's functions (gb_rtp.h); `rx` is the opaque handle gb_rx_new returns. */
export interface NativeRtp {
  rxNew(listen: string, port: number, key: Buffer, salt: Buffer, codec: number, err: Buffer, errLength: number): unknown;
  rxPort(rx: unknown): number;
  rxEventFd(rx: unknown): number;
  rxStart(rx: unknown, decoderFd: number): number;
  now(): number;
  rxSetRtt(rx: unknown, rttMs: number): void;
  rxSend(rx: unknown, data: Buffer, length: number): number;
  rxAdoptRemote(rx: unknown, address20: Buffer): void;
  rxStats(rx: unknown, out: Partial<NativeRxStats>): void;
  rxTakeSecond(rx: unknown, gauge: Partial<NativeGaugeSecond>, cleanMax: Float64Array): void;
  rxClose(rx: unknown): void;
}

let loaded: NativeRtp | string | undefined;

function candidates(): string[] {
  const given = process.env.GPU_BRIDGE_NATIVE_RTP_LIB;
  if (given) return [given];
  const paths = [join(dirname(process.execPath), 'native', LIBRARY)];
  try {
    const here = dirname(fileURLToPath(import.meta.url));
    // out/cli/index.mjs → out/native; src/core/rtp/ (tests) → out/native
    paths.push(join(here, '..', 'native', LIBRARY), join(here, '..', '..', '..', 'out', 'native', LIBRARY));
  } catch {
    // no module URL (the peer's single executable): its own folder is the place
  }
  return paths;
}

/** The library, or why it is not used. */
export function nativeRtp(): NativeRtp | string {
  if (loaded !== undefined) return loaded;
  if (process.env.GPU_BRIDGE_RTP_NATIVE === 'off') return (loaded = 'GPU_BRIDGE_RTP_NATIVE=off');
  if (process.platform !== 'linux') return (loaded = `the native rtp data plane is for Linux (this is ${process.platform})`);
  const path = candidates().find((candidate) => existsSync(candidate));
  if (!path) return (loaded = `${LIBRARY} is not built (scripts/build-native.mjs; looked in ${candidates().join(', ')})`);
  try {
    const koffi = createRequire(import.meta.url)('koffi') as Koffi;
    const lib = koffi.load(path);
    koffi.struct('gb_asm_counters', {
      frames_delivered: 'double', frames_lost: 'double', frames_skipped: 'double', fec_recovered: 'double', nack_recovered: 'double', nacks_sent: 'double', keyframe_requests: 'double', clean_count: 'double',
    });
    koffi.struct('gb_rx_stats', {
      originals: 'double', expected: 'double', highest: 'double', media_ssrc: 'double', rejected: 'double', last_authentic_at: 'double', events_dropped: 'double', decoder_frames_dropped: 'double', now: 'double',
      assembler: 'gb_asm_counters',
    });
    koffi.struct('gb_gauge_second', { has_queue_delay: 'bool', queue_delay_ms: 'double', received_kbps: 'double', has_train: 'bool', train_kbps: 'double' });
    loaded = {
      rxNew: lib.func('void *gb_rx_new(const char *listen, int port, const uint8_t *key, const uint8_t *salt, int codec, _Out_ uint8_t *err, size_t errlen)'),
      rxPort: lib.func('int gb_rx_port(void *rx)'),
      rxEventFd: lib.func('int gb_rx_event_fd(void *rx)'),
      rxStart: lib.func('int gb_rx_start(void *rx, int decoder_fd)'),
      now: lib.func('double gb_rx_now()'),
      rxSetRtt: lib.func('void gb_rx_set_rtt(void *rx, double rtt_ms)'),
      rxSend: lib.func('int gb_rx_send(void *rx, const uint8_t *data, size_t len)'),
      rxAdoptRemote: lib.func('void gb_rx_adopt_remote(void *rx, const uint8_t *address20)'),
      rxStats: lib.func('void gb_rx_get_stats(void *rx, _Out_ gb_rx_stats *out)'),
      rxTakeSecond: lib.func('void gb_rx_take_second(void *rx, _Out_ gb_gauge_second *gauge, _Out_ double *clean_max)'),
      rxClose: lib.func('void gb_rx_close(void *rx)'),
    };
  } catch (error) {
    loaded = `${path} does not load (${error instanceof Error ? error.message : String(error)})`;
  }
  return loaded;
}
