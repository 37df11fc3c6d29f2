import { readFile, stat, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { certificateFingerprint, createSelfSignedIdentity, type SelfSignedIdentity } from '../crypto/self-signed';
import { writeFileAtomic } from '../store/atomic-json';

/**
 * This side's TLS identity (key.pem + cert.pem in the config dir, both 0600), created on first use.
 * A key file with looser permissions is tightened; an unreadable or mismatching pair is reported, never replaced.
 */
export async function loadOrCreateIdentity(configDir: string, commonName: string): Promise<SelfSignedIdentity> {
  const keyFile = join(configDir, 'key.pem');
  const certFile = join(configDir, 'cert.pem');
  let keyPem: string | null = null;
  let certPem: string | null = null;
  try {
    keyPem = await readFile(keyFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  try {
    certPem = await readFile(certFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (keyPem === null && certPem === null) {
    const identity = await createSelfSignedIdentity({ commonName });
    await writeFileAtomic(keyFile, identity.keyPem, { mode: 0o600, backup: false });
    await writeFileAtomic(certFile, identity.certPem, { mode: 0o600, backup: false });
    return identity;
  }
  if (keyPem === null || certPem === null) {
    throw new Error(`identity in ${configDir} is incomplete (${keyPem === null ? 'key.pem' : 'cert.pem'} missing); restore it, or move both away to create a new one (peers must pair again)`);
  }
  if (((await stat(keyFile)).mode & 0o077) !== 0) await chmod(keyFile, 0o600);
  let fingerprint: string;
  try {
    fingerprint = certificateFingerprint(certPem);
  } catch (error) {
    throw new Error(`${certFile} is corrupt (${(error as Error).message}); it was not replaced`);
  }
  return { keyPem, certPem, fingerprint };
}
