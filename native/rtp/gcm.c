/*
 * AES-256-GCM with one kept OpenSSL context per key (aes-gcm.ts): only the IV changes per packet. The
 * EVP functions are the running process's own where it exports them (Node does, and so does the peer's
 * single executable), else those of libcrypto.so.3; no OpenSSL headers are needed to build this.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gb_rtp.h"

#define EVP_CTRL_GCM_GET_TAG 0x10
#define EVP_CTRL_GCM_SET_TAG 0x11
#define TAG_BYTES 16

typedef void *(*evp_ctx_new_fn)(void);
typedef void (*evp_ctx_free_fn)(void *ctx);
typedef const void *(*evp_cipher_fn)(void);
typedef int (*evp_init_fn)(void *ctx, const void *cipher, void *engine, const uint8_t *key, const uint8_t *iv, int enc);
typedef int (*evp_update_fn)(void *ctx, uint8_t *out, int *outl, const uint8_t *in, int inl);
typedef int (*evp_final_fn)(void *ctx, uint8_t *out, int *outl);
typedef int (*evp_ctrl_fn)(void *ctx, int type, int arg, void *ptr);

static struct {
  evp_ctx_new_fn ctx_new;
  evp_ctx_free_fn ctx_free;
  evp_cipher_fn aes_256_gcm;
  evp_init_fn init;
  evp_update_fn update;
  evp_final_fn final;
  evp_ctrl_fn ctrl;
} evp;

struct gb_gcm {
  void *ctx;
  int encrypt;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result = -1;
static char init_error[160];

static gb_gcm *gcm_new(const uint8_t key[32], int encrypt);

/* Resolves every function from handle; false (and evp left unusable) when one is missing. */
static bool resolve_from(void *handle) {
  evp.ctx_new = (evp_ctx_new_fn)dlsym(handle, "EVP_CIPHER_CTX_new");
  evp.ctx_free = (evp_ctx_free_fn)dlsym(handle, "EVP_CIPHER_CTX_free");
  evp.aes_256_gcm = (evp_cipher_fn)dlsym(handle, "EVP_aes_256_gcm");
  evp.init = (evp_init_fn)dlsym(handle, "EVP_CipherInit_ex");
  evp.update = (evp_update_fn)dlsym(handle, "EVP_CipherUpdate");
  evp.final = (evp_final_fn)dlsym(handle, "EVP_CipherFinal_ex");
  evp.ctrl = (evp_ctrl_fn)dlsym(handle, "EVP_CIPHER_CTX_ctrl");
  return evp.ctx_new && evp.ctx_free && evp.aes_256_gcm && evp.init && evp.update && evp.final && evp.ctrl;
}

/* hex (an even number of digits) into out; returns the bytes written. */
static size_t from_hex(const char *hex, uint8_t *out) {
  size_t n = 0;
  for (; hex[0] && hex[1]; hex += 2) {
    unsigned byte;
    if (sscanf(hex, "%2x", &byte) != 1) break;
    out[n++] = (uint8_t)byte;
  }
  return n;
}

/* The GCM specification's test case 16 (AES-256, AAD, a partial last block), and a forged tag refused. */
static bool known_answer(void) {
  uint8_t key[32], iv[12], aad[20], plaintext[60], expected[60], expected_tag[16], sealed[60], tag[16], opened[60];
  from_hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", key);
  from_hex("cafebabefacedbaddecaf888", iv);
  from_hex("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad);
  from_hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39", plaintext);
  from_hex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662", expected);
  from_hex("76fc6ece0f4e1768cddf8853bb2d551b", expected_tag);
  bool ok = false;
  gb_gcm *sealer = gcm_new(key, 1);
  gb_gcm *opener = gcm_new(key, 0);
  if (sealer && opener && gb_gcm_seal(sealer, iv, aad, sizeof aad, plaintext, sizeof plaintext, sealed, tag) == 0 && memcmp(sealed, expected, sizeof expected) == 0 &&
      memcmp(tag, expected_tag, sizeof tag) == 0 && gb_gcm_open(opener, iv, aad, sizeof aad, sealed, sizeof sealed, opened, tag) &&
      memcmp(opened, plaintext, sizeof plaintext) == 0) {
    tag[0] ^= 1;
    ok = !gb_gcm_open(opener, iv, aad, sizeof aad, sealed, sizeof sealed, opened, tag);
  }
  gb_gcm_free(sealer);
  gb_gcm_free(opener);
  return ok;
}

static void init_once_body(void) {
  init_result = 0;
  if (resolve_from(RTLD_DEFAULT) && known_answer()) return;
  void *library = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    snprintf(init_error, sizeof init_error, "OpenSSL's EVP functions are neither in this process nor loadable (%s)", dlerror());
  } else if (!resolve_from(library)) {
    snprintf(init_error, sizeof init_error, "libcrypto.so.3 lacks an EVP function this needs");
  } else if (!known_answer()) {
    snprintf(init_error, sizeof init_error, "OpenSSL's AES-256-GCM gave a wrong known answer");
  } else {
    return;
  }
  memset(&evp, 0, sizeof evp);
  init_result = -1;
}

int gb_gcm_init(char *err, size_t errlen) {
  pthread_once(&init_once, init_once_body);
  if (init_result != 0 && err && errlen > 0) snprintf(err, errlen, "%s", init_error);
  return init_result;
}

/* gb_gcm_new without the init, which known_answer (inside the init) needs */
static gb_gcm *gcm_new(const uint8_t key[32], int encrypt) {
  gb_gcm *gcm = calloc(1, sizeof *gcm);
  if (!gcm) return NULL;
  gcm->encrypt = encrypt ? 1 : 0;
  gcm->ctx = evp.ctx_new();
  if (!gcm->ctx || evp.init(gcm->ctx, evp.aes_256_gcm(), NULL, key, NULL, gcm->encrypt) != 1) {
    gb_gcm_free(gcm);
    return NULL;
  }
  return gcm;
}

gb_gcm *gb_gcm_new(const uint8_t key[32], int encrypt) {
  return gb_gcm_init(NULL, 0) == 0 ? gcm_new(key, encrypt) : NULL;
}

void gb_gcm_free(gb_gcm *gcm) {
  if (!gcm) return;
  if (gcm->ctx) evp.ctx_free(gcm->ctx);
  free(gcm);
}

/* A new IV, then the AAD: the start of every seal and open. */
static bool start_packet(gb_gcm *gcm, const uint8_t iv[12], const uint8_t *aad, size_t aad_len) {
  int written;
  if (aad_len > INT_MAX || evp.init(gcm->ctx, NULL, NULL, NULL, iv, gcm->encrypt) != 1) return false;
  return aad_len == 0 || evp.update(gcm->ctx, NULL, &written, aad, (int)aad_len) == 1;
}

int gb_gcm_seal(gb_gcm *gcm, const uint8_t iv[12], const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16]) {
  uint8_t spare[TAG_BYTES];
  int written;
  if (!gcm || !gcm->encrypt || len > INT_MAX || !start_packet(gcm, iv, aad, aad_len)) return -1;
  if (len > 0 && evp.update(gcm->ctx, out, &written, in, (int)len) != 1) return -1;
  if (evp.final(gcm->ctx, spare, &written) != 1 || evp.ctrl(gcm->ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, tag) != 1) return -1;
  return 0;
}

bool gb_gcm_open(gb_gcm *gcm, const uint8_t iv[12], const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, const uint8_t tag[16]) {
  uint8_t spare[TAG_BYTES], expected_tag[TAG_BYTES];
  int written;
  if (!gcm || gcm->encrypt || len > INT_MAX || !start_packet(gcm, iv, aad, aad_len)) return false;
  if (len > 0 && evp.update(gcm->ctx, out, &written, in, (int)len) != 1) return false;
  /* SET_TAG takes a writable pointer; the tag may lie in a packet that is read-only to us */
  memcpy(expected_tag, tag, TAG_BYTES);
  if (evp.ctrl(gcm->ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES, expected_tag) != 1) return false;
  return evp.final(gcm->ctx, spare, &written) == 1;
}
