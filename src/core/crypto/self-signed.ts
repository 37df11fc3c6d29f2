import { createHash, webcrypto, X509Certificate } from 'node:crypto';
import type * as X509 from '@peculiar/x509';

type X509Module = typeof X509;
let x509Module: Promise<X509Module> | null = null;

/** Loaded on first use: it pulls in a reflection polyfill that commands without TLS never need. */
function loadX509(): Promise<X509Module> {
  x509Module ??= (async () => {
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    // Node's webcrypto is the standard Crypto; the lib types differ between DOM and Node builds.
    x509.cryptoProvider.set(webcrypto as never);
    return x509;
  })();
  return x509Module;
}

export interface SelfSignedIdentity {
  /** PKCS#8 PEM. Write with mode 0600. */
  keyPem: string;
  certPem: string;
  /** SHA-256 of the certificate's DER, lowercase hex without separators. */
  fingerprint: string;
}

export interface SelfSignedOptions {
  commonName: string;
  /** DNS names and IP addresses the certificate names (TLS server use). */
  altNames?: string[];
  validDays?: number;
}

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A fresh ECDSA P-256 key and a self-signed certificate for it (TLS server and client use). */
export async function createSelfSignedIdentity(options: SelfSignedOptions): Promise<SelfSignedIdentity> {
  const x509 = await loadX509();
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = new Date();
  const notBefore = new Date(now.getTime() - 60 * 60 * 1000);
  const notAfter = new Date(now.getTime() + (options.validDays ?? 3650) * 24 * 60 * 60 * 1000);
  const altNames = (options.altNames ?? []).map((name) =>
    /^[\d.]+$/.test(name) || name.includes(':') ? { type: 'ip' as const, value: name } : { type: 'dns' as const, value: name },
  );
  const extensions: InstanceType<X509Module['Extension']>[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
  ];
  if (altNames.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(altNames));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${escapeDn(options.commonName)}`,
    notBefore,
    notAfter,
    signingAlgorithm: ALGORITHM,
    keys,
    extensions,
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const keyPem = toPem(Buffer.from(pkcs8), 'PRIVATE KEY');
  const certPem = cert.toString('pem');
  return { keyPem, certPem, fingerprint: certificateFingerprint(certPem) };
}

/** SHA-256 over the certificate's DER, lowercase hex. Accepts PEM or DER. */
export function certificateFingerprint(cert: string | Buffer): string {
  const der = typeof cert === 'string' ? new X509Certificate(cert).raw : cert;
  return createHash('sha256').update(der).digest('hex');
}

/** `AB:CD:…` form, as browsers and openssl show it. */
export function formatFingerprint(hex: string): string {
  return (hex.toUpperCase().match(/.{2}/g) ?? []).join(':');
}

function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = bytes[0]! & 0x7f;
  return Buffer.from(bytes).toString('hex');
}

function escapeDn(value: string): string {
  return value.replace(/[,+"\\<>;=]/g, (ch) => `\\${ch}`);
}

function toPem(der: Buffer, label: string): string {
  const body = der.toString('base64').match(/.{1,64}/g)?.join('\n') ?? '';
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}
