/*
 * SRTP send with AEAD_AES_256_GCM (RFC 7714), RTP only: SrtpProtector.protectRtp in srtp-gcm.ts, with
 * writeRtpHeader of rtp-packet.ts (the abs-send-time extension where a stamp is given).
 */
#include <stdlib.h>
#include <string.h>

#include "gb_rtp.h"

#define RTP_HEADER_BYTES 12
#define ABS_SEND_TIME_BYTES 8
#define ABS_SEND_TIME_ID 3
#define ONE_BYTE_PROFILE 0xbede
#define TAG_BYTES 16
#define SALT_BYTES 12
#define HALF_SEQ 0x8000
/*
 * The TypeScript keeps the ROC of every SSRC it ever sent (a Map without bound); this keeps 16 and evicts
 * the least recently used. An evicted SSRC that comes back starts afresh at ROC 0, as a new one does: the
 * sender uses two SSRCs (media and FEC), so only a caller that cycles through more than 16 sees that.
 */
#define MAX_SSRCS 16

typedef struct {
  bool in_use;
  uint32_t ssrc;
  uint32_t roc;
  uint16_t seq; /* the last seq that moved forward */
  uint64_t used_at; /* tx->use_count at its last packet: the least recent is evicted first */
} ssrc_state;

struct gb_srtp_tx {
  gb_gcm *sealer;
  uint8_t salt[SALT_BYTES];
  uint64_t use_count;
  ssrc_state ssrcs[MAX_SSRCS];
};

gb_srtp_tx *gb_srtp_tx_new(const uint8_t key[32], const uint8_t salt[12]) {
  gb_srtp_tx *tx = calloc(1, sizeof *tx);
  if (!tx) return NULL;
  tx->sealer = gb_gcm_new(key, 1);
  if (!tx->sealer) {
    free(tx);
    return NULL;
  }
  memcpy(tx->salt, salt, SALT_BYTES);
  return tx;
}

void gb_srtp_tx_free(gb_srtp_tx *tx) {
  if (!tx) return;
  gb_gcm_free(tx->sealer);
  free(tx);
}

/* rocFor: a forward step that lands below the last seq is a wrap; a step back is a resend. */
static uint32_t roc_for(gb_srtp_tx *tx, uint32_t ssrc, uint16_t seq) {
  ssrc_state *state = NULL;
  for (int i = 0; i < MAX_SSRCS && !state; i += 1) {
    if (tx->ssrcs[i].in_use && tx->ssrcs[i].ssrc == ssrc) state = &tx->ssrcs[i];
  }
  tx->use_count += 1;
  if (!state) {
    /* a free slot, else the least recently used SSRC's */
    for (int i = 0; i < MAX_SSRCS; i += 1) {
      ssrc_state *slot = &tx->ssrcs[i];
      if (!slot->in_use) {
        state = slot;
        break;
      }
      if (!state || slot->used_at < state->used_at) state = slot;
    }
    *state = (ssrc_state){.in_use = true, .ssrc = ssrc, .roc = 0, .seq = seq, .used_at = tx->use_count};
    return 0;
  }
  state->used_at = tx->use_count;
  if ((uint16_t)(seq - state->seq) < HALF_SEQ) {
    if (seq < state->seq) state->roc += 1;
    state->seq = seq;
    return state->roc;
  }
  return seq > state->seq ? state->roc - 1 : state->roc;
}

/* RFC 7714 §8.1: 00 00 | SSRC | ROC | SEQ, XOR the salt. */
static void rtp_iv(uint8_t iv[12], const uint8_t salt[SALT_BYTES], uint32_t ssrc, uint32_t roc, uint16_t seq) {
  const uint8_t clear[12] = {0, 0, ssrc >> 24, ssrc >> 16, ssrc >> 8, ssrc, roc >> 24, roc >> 16, roc >> 8, roc, seq >> 8, seq};
  for (int i = 0; i < 12; i += 1) iv[i] = clear[i] ^ salt[i];
}

static void write_u32(uint8_t *at, uint32_t value) {
  at[0] = (uint8_t)(value >> 24);
  at[1] = (uint8_t)(value >> 16);
  at[2] = (uint8_t)(value >> 8);
  at[3] = (uint8_t)value;
}

/* writeRtpHeader: the fixed 12 bytes, then the one-byte extension with abs-send-time where has_stamp. */
static void write_rtp_header(uint8_t *out, bool marker, uint8_t payload_type, uint16_t seq, uint32_t timestamp, uint32_t ssrc, bool has_stamp, uint32_t stamp) {
  out[0] = 2 << 6 | (has_stamp ? 0x10 : 0);
  out[1] = (marker ? 0x80 : 0) | (payload_type & 0x7f);
  out[2] = (uint8_t)(seq >> 8);
  out[3] = (uint8_t)seq;
  write_u32(out + 4, timestamp);
  write_u32(out + 8, ssrc);
  if (!has_stamp) return;
  const uint8_t extension[ABS_SEND_TIME_BYTES] = {ONE_BYTE_PROFILE >> 8, ONE_BYTE_PROFILE & 0xff, 0, 1, ABS_SEND_TIME_ID << 4 | 2, stamp >> 16, stamp >> 8, stamp};
  memcpy(out + RTP_HEADER_BYTES, extension, ABS_SEND_TIME_BYTES);
}

long gb_srtp_tx_protect(gb_srtp_tx *tx, bool marker, uint8_t payload_type, uint16_t seq, uint32_t timestamp, uint32_t ssrc, bool has_stamp, uint32_t stamp,
                        const uint8_t *payload, size_t len, uint8_t *out, size_t cap) {
  const size_t header_bytes = RTP_HEADER_BYTES + (has_stamp ? ABS_SEND_TIME_BYTES : 0);
  /* checked before the ROC moves, so a refused packet leaves no trace */
  if (!out || (len > 0 && !payload) || cap < header_bytes + TAG_BYTES || len > cap - header_bytes - TAG_BYTES) return -1;
  const uint32_t roc = roc_for(tx, ssrc, seq);
  write_rtp_header(out, marker, payload_type, seq, timestamp, ssrc, has_stamp, stamp);
  uint8_t iv[12];
  rtp_iv(iv, tx->salt, ssrc, roc, seq);
  if (gb_gcm_seal(tx->sealer, iv, out, header_bytes, payload, len, out + header_bytes, out + header_bytes + len) != 0) return -1;
  return (long)(header_bytes + len + TAG_BYTES);
}
