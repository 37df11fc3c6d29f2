/**
 * The native rtp data plane (native/rtp/, built into libgpubridge-rtp.so by scripts/build-native.mjs,
 * shipped beside the peer's executable in its tarball), bound through koffi. Where it is missing, cannot
 * load, or GPU_BRIDGE_RTP_NATIVE=off, the reason says why and the JavaScript sender and receiver do the work.
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

export interface NativeTxStats {
  frames: number;
  source_lost: number;
  frames_cut: number;
  oversized: number;
  events_dropped: number;
}

export interface NativeTxViewerStats {
  packets_sent: number;
  bytes_sent: number;
  fec_packets_sent: number;
  retransmitted: number;
  resend_refused: number;
  send_failed: number;
  rtcp_dropped: number;
  pacer_delayed: number;
  backlog_bytes: number;
}

export interface NativeTxViewerSetup {
  host: string;
  port: number;
  key: Buffer;
  salt: Buffer;
  ssrc: number;
  fec_ssrc: number;
  seq: number;
  fec_seq: number;
  payload_type: number;
  fec_ratio: number;
  /** <= 0: no pacing. */
  pacing_factor: number;
  target_kbps: number;
  fps: number;
  /** <= 0: none known. */
  link_kbps: number;
}

/** The data plane's functions (gb_rtp.h); `rx` and `tx` are the opaque handles gb_rx_new and gb_tx_new return. */
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
  txNew(clockOffsetMs: number, err: Buffer, errLength: number): unknown;
  txEventFd(tx: unknown): number;
  txOpenSource(tx: unknown, fromPort: number, armed: boolean, port: Int32Array): number;
  txArm(tx: unknown, id: number): void;
  txDropSource(tx: unknown, id: number): void;
  txIsActive(tx: unknown, id: number): boolean;
  txSwitching(tx: unknown): boolean;
  txSetJsViewers(tx: unknown, count: number): void;
  txAddViewer(tx: unknown, setup: NativeTxViewerSetup, err: Buffer, errLength: number): number;
  txRemoveViewer(tx: unknown, id: number): void;
  txSetFecRatio(tx: unknown, id: number, ratio: number): void;
  txSetPacing(tx: unknown, id: number, targetKbps: number, fps: number, linkKbps: number): void;
  txResend(tx: unknown, id: number, seqs: Uint16Array, count: number): void;
  txSendNow(tx: unknown, id: number, data: Buffer, length: number): number;
  txViewerStats(tx: unknown, id: number, out: Partial<NativeTxViewerStats>): number;
  txStats(tx: unknown, out: Partial<NativeTxStats>): void;
  txClose(tx: unknown): void;
}

let loaded: NativeRtp | string | undefined;

function candidates(): string[] {
  const given = process.env.GPU_BRIDGE_NATIVE_RTP_LIB;
  if (given) return [given];
  const paths = [join(dirname(process.execPath), 'native', LIBRARY)];
  try {
    const here = dirname(fileURLToPath(import.meta.url));
    // out/cli/index.mjs (or out/main) → out/native; src/core/rtp/ (tests) → out/native; in the packaged
    // desktop app, out/ is inside app.asar and the library unpacked beside it (electron-builder.yml)
    const beside = join(here, '..', 'native', LIBRARY);
    paths.push(beside.replace(/([/\\])app\.asar([/\\])/, '$1app.asar.unpacked$2'), beside, join(here, '..', '..', '..', 'out', 'native', LIBRARY));
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
    koffi.struct('gb_tx_stats', { frames: 'double', source_lost: 'double', frames_cut: 'double', oversized: 'double', events_dropped: 'double' });
    koffi.struct('gb_tx_viewer_stats', {
      packets_sent: 'double', bytes_sent: 'double', fec_packets_sent: 'double', retransmitted: 'double', resend_refused: 'double', send_failed: 'double', rtcp_dropped: 'double', pacer_delayed: 'double', backlog_bytes: 'double',
    });
    koffi.struct('gb_tx_viewer_setup', {
      host: 'const char *', port: 'int', key: 'const uint8_t *', salt: 'const uint8_t *', ssrc: 'uint32_t', fec_ssrc: 'uint32_t', seq: 'uint16_t', fec_seq: 'uint16_t', payload_type: 'uint8_t',
      fec_ratio: 'double', pacing_factor: 'double', target_kbps: 'double', fps: 'double', link_kbps: 'double',
    });
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
      txNew: lib.func('void *gb_tx_new(double clock_offset_ms, _Out_ uint8_t *err, size_t errlen)'),
      txEventFd: lib.func('int gb_tx_event_fd(void *tx)'),
      txOpenSource: lib.func('int gb_tx_open_source(void *tx, int from_port, bool armed, _Out_ int *port)'),
      txArm: lib.func('void gb_tx_arm(void *tx, int id)'),
      txDropSource: lib.func('void gb_tx_drop_source(void *tx, int id)'),
      txIsActive: lib.func('bool gb_tx_is_active(void *tx, int id)'),
      txSwitching: lib.func('bool gb_tx_switching(void *tx)'),
      txSetJsViewers: lib.func('void gb_tx_set_js_viewers(void *tx, int count)'),
      txAddViewer: lib.func('int gb_tx_add_viewer(void *tx, const gb_tx_viewer_setup *setup, _Out_ uint8_t *err, size_t errlen)'),
      txRemoveViewer: lib.func('void gb_tx_remove_viewer(void *tx, int id)'),
      txSetFecRatio: lib.func('void gb_tx_set_fec_ratio(void *tx, int id, double ratio)'),
      txSetPacing: lib.func('void gb_tx_set_pacing(void *tx, int id, double target_kbps, double fps, double link_kbps)'),
      txResend: lib.func('void gb_tx_resend(void *tx, int id, const uint16_t *seqs, size_t count)'),
      txSendNow: lib.func('int gb_tx_send_now(void *tx, int id, const uint8_t *data, size_t len)'),
      txViewerStats: lib.func('int gb_tx_get_viewer_stats(void *tx, int id, _Out_ gb_tx_viewer_stats *out)'),
      txStats: lib.func('void gb_tx_get_stats(void *tx, _Out_ gb_tx_stats *out)'),
      txClose: lib.func('void gb_tx_close(void *tx)'),
    };
  } catch (error) {
    loaded = `${path} does not load (${error instanceof Error ? error.message : String(error)})`;
  }
  return loaded;
}
