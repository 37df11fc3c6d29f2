import type { StreamOpen } from '../../shared/contract/peers';
import type { SessionAudio } from '../audio/session-audio';
import type { TransportName } from '../../shared/transports';
import { RtpInput } from '../rtp/rtp-input';
import { keysFromWire } from '../rtp/rtp-keys';
import { RtpTransport } from '../rtp/rtp-transport';
import { SrtInput } from '../srt/srt-input';
import { SrtTransport } from '../srt/srt-transport';
import { newPassphrase } from '../srt/srt-url';
import type { PictureSync, ReceiverInput } from './receiver-input';
import type { SenderTransport } from './sender-transport';
import type { OpenRequest } from './viewer-link';

/** Per-transport settings a session may carry (each transport reads its own). */
export interface TransportSettings {
  /** srt: its latency; default: from each viewer's measured RTT. */
  srtLatencyMs?: number;
}

/**
 * The one place that maps a transport's name to its room (src/core/<name>/), host side. `audio`: the
 * session's sound, for a transport that carries it (TRANSPORTS[name].audio) to send to each viewer.
 */
const SENDERS: Record<TransportName, (settings: TransportSettings, audio: SessionAudio | null) => SenderTransport> = {
  rtp: (_settings, audio) => new RtpTransport(audio),
  srt: (settings, audio) => new SrtTransport(settings.srtLatencyMs, audio),
};

export function senderTransport(name: TransportName, settings: TransportSettings, audio: SessionAudio | null = null): SenderTransport {
  return SENDERS[name](settings, audio);
}

/** Where a peer's receivers listen. */
export interface InputPlace {
  listen: string;
  /** 0 picks a free one. */
  port?: number;
  listenTimeoutMs?: number;
}

/**
 * The one place that maps a stream.open to its transport's input (src/core/<name>/), peer side. `sync`:
 * lip sync with the stream's sound, for a transport that carries it (the picture held for it).
 */
export function receiverInput(request: OpenRequest | StreamOpen, place: InputPlace, sync?: PictureSync): ReceiverInput {
  const at = { listen: place.listen, port: place.port ?? 0, listenTimeoutMs: place.listenTimeoutMs };
  if (request.transport === 'srt') return new SrtInput({ ...at, passphrase: request.passphrase, latencyMs: request.latencyMs, sync });
  return new RtpInput({ ...at, keys: keysFromWire(request.rtpKeys), codec: request.codec, sync });
}

/**
 * An input opened ahead of any request under its own secret (the peer keeps one warm and tells the
 * host its secret at stream.ready), for the transports where the peer may choose it; null where the
 * host's secret is needed (rtp's keys).
 */
export function inputAhead(transport: TransportName, place: InputPlace): { input: ReceiverInput; answer: { passphrase: string } } | null {
  if (transport !== 'srt') return null;
  const passphrase = newPassphrase();
  // listener latency 0: SRT uses the larger of both sides', so the host's choice applies
  return { input: new SrtInput({ listen: place.listen, port: place.port ?? 0, listenTimeoutMs: place.listenTimeoutMs, passphrase, latencyMs: 0 }), answer: { passphrase } };
}
