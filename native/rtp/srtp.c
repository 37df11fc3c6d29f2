/*
 * SRTP receive with AEAD_AES_256_GCM (RFC 7714), RTP only: SrtpUnprotector.unprotectRtp in srtp-gcm.ts,
 * always in place, with parseRtpHeader and readAbsSendTime of rtp-packet.ts. Only a packet whose tag
 * verifies may create or move state (SSRC entries, replay windows), so forged traffic cannot push the
 * window past the genuine stream.
 */
#include <stdlib.h>
#include <string.h>

#include "gb_rtp.h"

#define RTP_HEADER_BYTES 12
#define CSRC_BYTES 4
#define EXTENSION_HEADER_BYTES 4
#define ONE_BYTE_PROFILE 0xbede
#define ABS_SEND_TIME_ID 3
#define TAG_BYTES 16
#define SALT_BYTES 12
#define SEQ_MODULUS 0x10000
#define HALF_SEQ 0x8000
#define REPLAY_WINDOW 4096
#define MAX_SSRCS 4

/* Which of the last REPLAY_WINDOW indexes up to the highest have been seen: a ring of bits, index mod its size. */
typedef struct {
  bool in_use;
  uint32_t ssrc;
  int64_t highest;
  uint64_t recorded_at; /* rx->record_count when last recorded: the least recent is evicted first */
  uint32_t bits[REPLAY_WINDOW / 32];
} replay_window;

struct gb_srtp_rx {
  gb_gcm *opener;
  uint8_t salt[SALT_BYTES];
  uint64_t record_count;
  replay_window windows[MAX_SSRCS];
};

typedef struct {
  bool marker, padding;
  uint8_t payload_type;
  uint16_t seq;
  uint32_t timestamp, ssrc;
  size_t header_length;
} rtp_header;

static uint32_t read_u32(const uint8_t *bytes) {
  return (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 | bytes[3];
}

/* parseRtpHeader: false when the packet is shorter than its header or not version 2. */
static bool parse_rtp_header(const uint8_t *packet, size_t len, rtp_header *header) {
  if (len < RTP_HEADER_BYTES || packet[0] >> 6 != 2) return false;
  size_t header_length = RTP_HEADER_BYTES + (size_t)(packet[0] & 0x0f) * CSRC_BYTES;
  if (packet[0] & 0x10) {
    if (len < header_length + EXTENSION_HEADER_BYTES) return false;
    size_t extension_words = (size_t)packet[header_length + 2] << 8 | packet[header_length + 3];
    header_length += EXTENSION_HEADER_BYTES + extension_words * 4;
  }
  if (len < header_length) return false;
  header->marker = packet[1] & 0x80;
  header->payload_type = packet[1] & 0x7f;
  header->seq = (uint16_t)(packet[2] << 8 | packet[3]);
  header->timestamp = read_u32(packet + 4);
  header->ssrc = read_u32(packet + 8);
  header->header_length = header_length;
  header->padding = packet[0] & 0x20;
  return true;
}

/* readAbsSendTime: the abs-send-time element of an RFC 8285 one-byte header extension, if there is one. */
static bool read_abs_send_time(const uint8_t *packet, size_t len, uint32_t *stamp) {
  if (len < 1 || !(packet[0] & 0x10)) return false;
  size_t at = RTP_HEADER_BYTES + (size_t)(packet[0] & 0x0f) * CSRC_BYTES;
  if (len < at + EXTENSION_HEADER_BYTES || (packet[at] << 8 | packet[at + 1]) != ONE_BYTE_PROFILE) return false;
  size_t end = at + EXTENSION_HEADER_BYTES + ((size_t)packet[at + 2] << 8 | packet[at + 3]) * 4;
  if (end > len) end = len;
  for (size_t index = at + EXTENSION_HEADER_BYTES; index < end;) {
    uint8_t byte = packet[index];
    if (byte == 0) {
      index += 1; /* padding */
      continue;
    }
    unsigned id = byte >> 4, length = (byte & 0x0f) + 1u;
    if (id == 15) return false;
    if (id == ABS_SEND_TIME_ID && length == 3 && index + 3 < end) {
      *stamp = (uint32_t)packet[index + 1] << 16 | (uint32_t)packet[index + 2] << 8 | packet[index + 3];
      return true;
    }
    index += 1 + length;
  }
  return false;
}

/* RFC 7714 §8.1: 00 00 | SSRC | ROC | SEQ, XOR the salt. */
static void rtp_iv(uint8_t iv[12], const uint8_t salt[SALT_BYTES], uint32_t ssrc, uint32_t roc, uint16_t seq) {
  const uint8_t clear[12] = {0, 0, ssrc >> 24, ssrc >> 16, ssrc >> 8, ssrc, roc >> 24, roc >> 16, roc >> 8, roc, seq >> 8, seq};
  for (int i = 0; i < 12; i += 1) iv[i] = clear[i] ^ salt[i];
}

/* RFC 3711 Appendix A: the ROC that puts seq nearest the highest index seen (-1 below the first wrap). */
static int64_t guess_roc(int64_t highest_index, uint16_t seq) {
  int64_t roc = highest_index / SEQ_MODULUS;
  int64_t highest_seq = highest_index % SEQ_MODULUS;
  if (highest_seq < HALF_SEQ) return seq - highest_seq > HALF_SEQ ? roc - 1 : roc;
  return highest_seq - HALF_SEQ > seq ? roc + 1 : roc;
}

static bool window_bit(const replay_window *window, int64_t index) {
  unsigned bit = (unsigned)(index % REPLAY_WINDOW);
  return window->bits[bit >> 5] & (1u << (bit & 31));
}

static void window_flip(replay_window *window, int64_t index, bool on) {
  unsigned bit = (unsigned)(index % REPLAY_WINDOW);
  if (on) window->bits[bit >> 5] |= 1u << (bit & 31);
  else window->bits[bit >> 5] &= ~(1u << (bit & 31));
}

static bool window_accepts(const replay_window *window, int64_t index) {
  if (index > window->highest) return true;
  if (index < 0 || window->highest - index >= REPLAY_WINDOW) return false;
  return !window_bit(window, index);
}

static void window_record(replay_window *window, int64_t index) {
  if (index > window->highest) {
    if (index - window->highest >= REPLAY_WINDOW) memset(window->bits, 0, sizeof window->bits);
    else for (int64_t skipped = window->highest + 1; skipped < index; skipped += 1) window_flip(window, skipped, false);
    window->highest = index;
  }
  window_flip(window, index, true);
}

static replay_window *find_window(gb_srtp_rx *rx, uint32_t ssrc) {
  for (int i = 0; i < MAX_SSRCS; i += 1) {
    if (rx->windows[i].in_use && rx->windows[i].ssrc == ssrc) return &rx->windows[i];
  }
  return NULL;
}

/* ReplayTable.record: for an authenticated packet whose index the window accepts. */
static void record(gb_srtp_rx *rx, uint32_t ssrc, int64_t index) {
  replay_window *window = find_window(rx, ssrc);
  if (window) {
    window_record(window, index);
  } else {
    /* a free slot, else the least recently recorded SSRC's */
    for (int i = 0; i < MAX_SSRCS; i += 1) {
      replay_window *slot = &rx->windows[i];
      if (!slot->in_use) {
        window = slot;
        break;
      }
      if (!window || slot->recorded_at < window->recorded_at) window = slot;
    }
    memset(window, 0, sizeof *window);
    window->in_use = true;
    window->ssrc = ssrc;
    window->highest = index;
    window_flip(window, index, true);
  }
  rx->record_count += 1;
  window->recorded_at = rx->record_count;
}

gb_srtp_rx *gb_srtp_rx_new(const uint8_t key[32], const uint8_t salt[12]) {
  gb_srtp_rx *rx = calloc(1, sizeof *rx);
  if (!rx) return NULL;
  rx->opener = gb_gcm_new(key, 0);
  if (!rx->opener) {
    free(rx);
    return NULL;
  }
  memcpy(rx->salt, salt, SALT_BYTES);
  return rx;
}

void gb_srtp_rx_free(gb_srtp_rx *rx) {
  if (!rx) return;
  gb_gcm_free(rx->opener);
  free(rx);
}

int gb_srtp_rx_open(gb_srtp_rx *rx, uint8_t *packet, size_t len, gb_rtp_packet *out) {
  if (len < RTP_HEADER_BYTES + TAG_BYTES) return GB_SRTP_SHORT;
  if (packet[0] >> 6 != 2) return GB_SRTP_MALFORMED;
  rtp_header header;
  if (!parse_rtp_header(packet, len, &header) || len < header.header_length + TAG_BYTES) return GB_SRTP_SHORT;
  const uint8_t *aad = packet;
  uint8_t *text = packet + header.header_length;
  const size_t text_len = len - header.header_length - TAG_BYTES;
  const uint8_t *tag = packet + len - TAG_BYTES;
  uint8_t iv[12];

  replay_window *window = find_window(rx, header.ssrc);
  int64_t roc;
  bool authentic;
  if (window) {
    roc = guess_roc(window->highest, header.seq);
    rtp_iv(iv, rx->salt, header.ssrc, (uint32_t)roc, header.seq);
    authentic = gb_gcm_open(rx->opener, iv, aad, header.header_length, text, text_len, text, tag);
  } else {
    /* nothing seen of this SSRC yet: its first packets may all have been lost past the sender's first wrap */
    roc = 0;
    rtp_iv(iv, rx->salt, header.ssrc, 0, header.seq);
    authentic = gb_gcm_open(rx->opener, iv, aad, header.header_length, text, text_len, text, tag);
    if (!authentic) {
      /* GCM's cipher is a counter-mode stream: decrypting again with the same IV gives the ciphertext back */
      gb_gcm_open(rx->opener, iv, aad, header.header_length, text, text_len, text, tag);
      roc = 1;
      rtp_iv(iv, rx->salt, header.ssrc, 1, header.seq);
      authentic = gb_gcm_open(rx->opener, iv, aad, header.header_length, text, text_len, text, tag);
    }
  }
  if (!authentic) return GB_SRTP_AUTH;
  const int64_t index = roc * SEQ_MODULUS + header.seq;
  if (window && !window_accepts(window, index)) return GB_SRTP_REPLAY;
  size_t payload_len = text_len;
  if (header.padding) {
    size_t padding = text_len > 0 ? text[text_len - 1] : 0;
    if (padding == 0 || padding > text_len) return GB_SRTP_MALFORMED;
    payload_len -= padding;
  }
  record(rx, header.ssrc, index);

  out->marker = header.marker;
  out->payload_type = header.payload_type;
  out->seq = header.seq;
  out->timestamp = header.timestamp;
  out->ssrc = header.ssrc;
  out->has_send_stamp = read_abs_send_time(packet, len, &out->send_stamp);
  if (!out->has_send_stamp) out->send_stamp = 0;
  out->payload = text;
  out->payload_len = payload_len;
  return GB_SRTP_OK;
}
