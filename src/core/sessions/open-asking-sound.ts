import { OpenNotUnderstood, type OpenedAt, type OpenRequest, type ViewerLink } from './viewer-link';

/** What the host tells of a viewer whose gpu-bridge could not read a stream.open asking for sound. */
export const OLDER_PEER_NO_SOUND = 'this peer runs an older gpu-bridge, which takes no sound on this transport: it gets the picture alone (update gpu-bridge there to hear the host)';

/**
 * Opens a viewer's receiver for a stream that asks for the session's sound. A peer older than sound on
 * this transport cannot read the request (its contract has no `audio` there): it is asked again without
 * it, and gets the picture alone, `audioWhy` saying so, rather than nothing at all.
 */
export async function openAskingSound(link: ViewerLink, request: OpenRequest): Promise<OpenedAt> {
  try {
    return await link.open(request);
  } catch (error) {
    if (!(error instanceof OpenNotUnderstood) || !('audio' in request) || !request.audio) throw error;
    const { audio: _audio, ...withoutSound } = request;
    const where = await link.open(withoutSound as OpenRequest);
    return { ...where, audioWhy: OLDER_PEER_NO_SOUND };
  }
}
