import type { TLSSocket } from 'node:tls';
import { certificateFingerprint, type SelfSignedIdentity } from '../crypto/self-signed';

/**
 * Both sides: TLS 1.3 only, our own certificate presented, no CA. `rejectUnauthorized: false` only
 * because the certificates are self-signed: every connection is checked against a pinned fingerprint
 * with peerFingerprint() before any message is trusted.
 */
export function tlsServerOptions(identity: SelfSignedIdentity) {
  return {
    key: identity.keyPem,
    cert: identity.certPem,
    minVersion: 'TLSv1.3' as const,
    maxVersion: 'TLSv1.3' as const,
    requestCert: true,
    rejectUnauthorized: false,
  };
}

export function tlsClientOptions(identity: SelfSignedIdentity) {
  return {
    key: identity.keyPem,
    cert: identity.certPem,
    minVersion: 'TLSv1.3' as const,
    maxVersion: 'TLSv1.3' as const,
    rejectUnauthorized: false,
    // no SNI/hostname check: the pinned fingerprint is the identity
    checkServerIdentity: () => undefined,
  };
}

/** SHA-256 fingerprint of the certificate the other side presented, or null when it presented none. */
export function peerFingerprint(socket: TLSSocket): string | null {
  const cert = socket.getPeerCertificate(false);
  if (!cert || !cert.raw || cert.raw.length === 0) return null;
  return certificateFingerprint(cert.raw);
}
