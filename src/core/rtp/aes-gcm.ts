/**
 * AES-256-GCM for one key, sealing or opening many packets: the cipher context (and its key schedule) is
 * made once and only the IV changes per packet. node:crypto cannot do that (each createCipheriv makes a
 * new OpenSSL context, about half the cost of a packet), so where it can this calls OpenSSL's EVP
 * functions through koffi: those of the running Node itself, which exports them (the peer's single
 * executable too), else the system's libcrypto.so.3. Each context proves itself on a known answer
 * against node:crypto before use; anything amiss (no koffi, no OpenSSL, another library behind the same
 * names, GPU_BRIDGE_RTP_CRYPTO=node) and node:crypto does the work instead, the same bytes either way.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { createRequire } from 'node:module';

export const GCM_TAG_BYTES = 16;
const KEY_BYTES = 32;
const IV_BYTES = 12;
const EVP_CTRL_GCM_GET_TAG = 0x10;
const EVP_CTRL_GCM_SET_TAG = 0x11;

export interface GcmSealer {
  /** Encrypts `plaintext` into `out` (as long; may be the same memory) and writes the tag into `tag`. */
  seal(iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array, tag: Uint8Array): void;
}

export interface GcmOpener {
  /** Decrypts `ciphertext` into `out` (as long; may be the same memory); false when the tag does not verify (then `out` holds garbage). */
  open(iv: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, out: Uint8Array, tag: Uint8Array): boolean;
}

export type GcmBackend = 'openssl' | 'node';

class NodeSealer implements GcmSealer {
  constructor(private readonly key: Buffer) {}

  seal(iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array, tag: Uint8Array): void {
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: GCM_TAG_BYTES });
    cipher.setAAD(aad);
    out.set(cipher.update(plaintext));
    cipher.final();
    tag.set(cipher.getAuthTag());
  }
}

class NodeOpener implements GcmOpener {
  constructor(private readonly key: Buffer) {}

  open(iv: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, out: Uint8Array, tag: Uint8Array): boolean {
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv, { authTagLength: GCM_TAG_BYTES });
      decipher.setAAD(aad);
      decipher.setAuthTag(tag);
      const plaintext = decipher.update(ciphertext);
      decipher.final();
      out.set(plaintext);
      return true;
    } catch {
      return false;
    }
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- koffi's functions take and return what the signature says
type Native = (...args: any[]) => any;

interface Evp {
  newContext: Native;
  freeContext: Native;
  aes256Gcm: Native;
  init: Native;
  update: Native;
  final: Native;
  ctrl: Native;
}

interface KoffiLoader {
  load(path: string | null): { func(signature: string): Native };
}

let evp: Evp | null | undefined;

/** OpenSSL's EVP functions, or null (once: the answer is kept). */
function loadEvp(): Evp | null {
  if (evp !== undefined) return evp;
  evp = null;
  if (process.env.GPU_BRIDGE_RTP_CRYPTO === 'node') return null;
  let koffi: KoffiLoader;
  try {
    koffi = createRequire(import.meta.url)('koffi') as KoffiLoader;
  } catch {
    return null;
  }
  // null: the running program (Node links OpenSSL in and exports it); then the system's
  for (const name of [null, 'libcrypto.so.3']) {
    try {
      const lib = koffi.load(name);
      evp = {
        newContext: lib.func('void *EVP_CIPHER_CTX_new()'),
        freeContext: lib.func('void EVP_CIPHER_CTX_free(void *ctx)'),
        aes256Gcm: lib.func('void *EVP_aes_256_gcm()'),
        init: lib.func('int EVP_CipherInit_ex(void *ctx, void *cipher, void *engine, void *key, void *iv, int enc)'),
        update: lib.func('int EVP_CipherUpdate(void *ctx, void *out, void *outl, void *in, int inl)'),
        final: lib.func('int EVP_CipherFinal_ex(void *ctx, void *out, void *outl)'),
        ctrl: lib.func('int EVP_CIPHER_CTX_ctrl(void *ctx, int type, int arg, void *ptr)'),
      };
      return evp;
    } catch {
      // not in this one
    }
  }
  return null;
}

/** Frees a context once the object that holds it is gone (sessions come and go; contexts are C memory). */
const contexts = new FinalizationRegistry<{ evp: Evp; context: unknown }>(({ evp, context }) => evp.freeContext(context));

/** One EVP context for one key and one direction; `length` and `spare` take what EVP writes back and no one reads. */
class EvpGcm implements GcmSealer, GcmOpener {
  private readonly length = new Int32Array(1);
  private readonly spare = new Uint8Array(GCM_TAG_BYTES);
  private readonly context: unknown;

  constructor(
    private readonly evp: Evp,
    key: Uint8Array,
    private readonly encrypt: boolean,
  ) {
    const context: unknown = evp.newContext();
    if (!context) throw new Error('EVP_CIPHER_CTX_new failed');
    if (evp.init(context, evp.aes256Gcm(), null, key, null, encrypt ? 1 : 0) !== 1) {
      evp.freeContext(context);
      throw new Error('EVP_CipherInit_ex refused the key');
    }
    this.context = context;
    contexts.register(this, { evp, context });
  }

  seal(iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array, tag: Uint8Array): void {
    const { evp, context, length } = this;
    if (evp.init(context, null, null, null, iv, 1) !== 1 || evp.update(context, null, length, aad, aad.length) !== 1) throw new Error('AES-GCM: OpenSSL refused the IV or AAD');
    if (plaintext.length > 0 && evp.update(context, out, length, plaintext, plaintext.length) !== 1) throw new Error('AES-GCM: OpenSSL refused to encrypt');
    if (evp.final(context, this.spare, length) !== 1 || evp.ctrl(context, EVP_CTRL_GCM_GET_TAG, GCM_TAG_BYTES, tag) !== 1) throw new Error('AES-GCM: OpenSSL gave no tag');
  }

  open(iv: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, out: Uint8Array, tag: Uint8Array): boolean {
    const { evp, context, length } = this;
    if (tag.length !== GCM_TAG_BYTES) return false;
    if (evp.init(context, null, null, null, iv, 0) !== 1 || evp.update(context, null, length, aad, aad.length) !== 1) return false;
    if (ciphertext.length > 0 && evp.update(context, out, length, ciphertext, ciphertext.length) !== 1) return false;
    if (evp.ctrl(context, EVP_CTRL_GCM_SET_TAG, GCM_TAG_BYTES, tag) !== 1) return false;
    return evp.final(context, this.spare, length) === 1;
  }
}

/** The same sealed bytes as node:crypto, and a forged tag refused: else this library is not one to use. */
function knownAnswer(sealer: GcmSealer, opener: GcmOpener, key: Buffer): boolean {
  const iv = Buffer.from('000102030405060708090a0b', 'hex');
  const aad = Buffer.from('gpu-bridge aad');
  const plaintext = Buffer.alloc(61, 0x5a);
  const out = new Uint8Array(plaintext.length);
  const tag = new Uint8Array(GCM_TAG_BYTES);
  const expected = new Uint8Array(plaintext.length);
  const expectedTag = new Uint8Array(GCM_TAG_BYTES);
  new NodeSealer(key).seal(iv, aad, plaintext, expected, expectedTag);
  sealer.seal(iv, aad, plaintext, out, tag);
  if (!Buffer.from(out).equals(expected) || !Buffer.from(tag).equals(expectedTag)) return false;
  const opened = new Uint8Array(plaintext.length);
  if (!opener.open(iv, aad, out, opened, tag) || !Buffer.from(opened).equals(plaintext)) return false;
  tag[0] = tag[0]! ^ 1;
  return !opener.open(iv, aad, out, opened, tag);
}

let evpProven: boolean | undefined;

/** A sealer and an opener for this key: OpenSSL through koffi where it proves itself, else node:crypto. */
export function gcmForKey(key: Buffer, backend?: GcmBackend): { sealer: GcmSealer; opener: GcmOpener; backend: GcmBackend } {
  if (key.length !== KEY_BYTES) throw new RangeError(`an AES-256 key is ${KEY_BYTES} bytes, got ${key.length}`);
  const node = { sealer: new NodeSealer(key), opener: new NodeOpener(key), backend: 'node' as const };
  if (backend === 'node') return node;
  const functions = loadEvp();
  if (!functions) return node;
  try {
    const native = { sealer: new EvpGcm(functions, key, true), opener: new EvpGcm(functions, key, false), backend: 'openssl' as const };
    // the first key proves the library; a wrong answer then means no OpenSSL path in this process at all
    evpProven ??= knownAnswer(native.sealer, native.opener, key);
    return evpProven ? native : node;
  } catch {
    return node;
  }
}

/** Which backend new keys get here (for logs and tests). */
export function gcmBackend(): GcmBackend {
  return gcmForKey(Buffer.alloc(KEY_BYTES, 1)).backend;
}

export const GCM_IV_BYTES = IV_BYTES;
