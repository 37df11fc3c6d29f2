import type { StreamOpen } from '../shared/contract/peers';
import { audioKeys } from '../core/audio/audio-keys';
import { AudioRtpReceiver } from '../core/audio/audio-receiver';
import { openSink } from '../core/audio/audio-sink';
import { keysFromWire } from '../core/rtp/rtp-keys';
import { SrtAudioReceiver } from '../core/srt/srt-audio-receiver';
import { loadSrt } from '../core/srt/srt-native';

/** A stream's sound at the peer: on its own socket (rtp), or demuxed from the picture's stream (srt). */
export type PeerSound = AudioRtpReceiver | SrtAudioReceiver;

/**
 * The peer's audio receiver for a stream that asked for sound (only a transport that carries it has
 * `audio` in its stream.open): rtp's on a second socket under keys derived from the stream's; srt's fed
 * by the stream's input, which demuxes it from the MPEG-TS;
 * played to the default output, or counted and dropped where this machine has none (said once in the
 * log). Null when it cannot be opened (no libopus): the picture comes without sound.
 */
export async function openPeerAudio(request: StreamOpen, options: { listen: string; log?: (event: Record<string, unknown>) => void }): Promise<PeerSound | null> {
  if (!('audio' in request) || !request.audio) return null;
  if (request.transport === 'srt' && !loadSrt()) {
    // the stream goes to ffmpeg's own SRT input, which plays the picture only (the host sends the sound all the same)
    options.log?.({ event: 'audio-unavailable', streamId: request.streamId, why: 'libsrt cannot be loaded here (Debian: libsrt1.5-gnutls): ffmpeg\'s own SRT input takes the stream and its sound is not played' });
    return null;
  }
  let receiver: PeerSound | null = null;
  try {
    const sink = await openSink();
    if (sink.why) options.log?.({ event: 'audio-headless', streamId: request.streamId, why: sink.why });
    if (request.transport === 'srt') return (receiver = new SrtAudioReceiver(sink));
    receiver = new AudioRtpReceiver({ listen: options.listen, port: 0, keys: audioKeys(keysFromWire(request.rtpKeys)), sink });
    await receiver.start();
    return receiver;
  } catch (error) {
    await receiver?.close().catch(() => undefined);
    options.log?.({ event: 'audio-unavailable', streamId: request.streamId, why: (error as Error).message });
    return null;
  }
}
