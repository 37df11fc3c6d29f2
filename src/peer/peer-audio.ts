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
 * by the stream's input, which demuxes it from the MPEG-TS; played to the default output, or counted and
 * dropped where this machine has none. `sound` is null when it cannot be opened (no libopus, no libsrt
 * for srt): the picture comes without it. `why` (one line, for the host and the log) says why the sound
 * will not be heard here, where it will not.
 */
export async function openPeerAudio(request: StreamOpen, options: { listen: string; log?: (event: Record<string, unknown>) => void }): Promise<{ sound: PeerSound | null; why: string | null }> {
  if (!('audio' in request) || !request.audio) return { sound: null, why: null };
  if (request.transport === 'srt' && !loadSrt()) {
    // the stream goes to ffmpeg's own SRT input, which plays the picture only (the host sends the sound all the same)
    const why = 'libsrt cannot be loaded on the peer (Debian: libsrt1.5-gnutls): ffmpeg\'s own SRT input takes the stream, and its sound is not played';
    options.log?.({ event: 'audio-unavailable', streamId: request.streamId, why });
    return { sound: null, why };
  }
  let receiver: PeerSound | null = null;
  try {
    const sink = await openSink();
    const why = sink.why ? `counted, not played: ${sink.why}` : null;
    if (sink.why) options.log?.({ event: 'audio-headless', streamId: request.streamId, why: sink.why });
    if (request.transport === 'srt') return { sound: (receiver = new SrtAudioReceiver(sink)), why };
    receiver = new AudioRtpReceiver({ listen: options.listen, port: 0, keys: audioKeys(keysFromWire(request.rtpKeys)), sink });
    await receiver.start();
    return { sound: receiver, why };
  } catch (error) {
    await receiver?.close().catch(() => undefined);
    const why = `the peer could not open its sound: ${(error as Error).message}`.slice(0, 300);
    options.log?.({ event: 'audio-unavailable', streamId: request.streamId, why });
    return { sound: null, why };
  }
}
