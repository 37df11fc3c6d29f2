import { useEffect, useRef, useState } from 'react';
import type { SessionInfo } from '../../../../shared/contract';
import { ENCODER_CODEC } from '../../../../shared/contract/sessions';
import { browserRefusal } from '../../../../shared/transports';
import { useApi } from '../../api/context';
import { WatchClient } from '../../watch/watch-client';

/** Whether this page can show the session's picture (its transport and codec carry a browser: src/shared/transports.ts). */
export function watchable(session: SessionInfo): boolean {
  return browserRefusal(session.transport, ENCODER_CODEC[session.encoder]) === null && (session.state === 'running' || session.state === 'starting');
}

/** The session's live picture, small, linking to its Watch page (a passive WebRTC viewer: it keeps no session going). */
export function SessionThumbnail({ session }: { session: SessionInfo }) {
  const api = useApi();
  const video = useRef<HTMLVideoElement>(null);
  const [state, setState] = useState<string>('connecting');
  const live = watchable(session);
  useEffect(() => {
    if (!live || !video.current) return;
    const client = new WatchClient(api, video.current, (f) => setState(f.state));
    client.start({ sessionId: session.id, thumbnail: true }).catch((e: Error) => setState(`no picture: ${e.message}`));
    return () => client.end('thumbnail closed');
  }, [api, session.id, live]);
  if (!live) return null;
  return (
    <a className="watch-thumb" href={`#/watch?session=${session.id}`} aria-label={`Watch session ${session.id.slice(0, 8)}`} title={state === 'playing' ? 'Watch full size' : state}>
      <video ref={video} muted playsInline autoPlay data-state={state} />
    </a>
  );
}
