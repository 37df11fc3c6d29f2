/* RTP video payloads of one access unit → Annex B: a port of depacketize() in src/core/rtp/depacketize.ts. */
#include <limits.h>
#include <string.h>

#include "gb_rtp.h"

#define FU_START 0x80
#define FU_END 0x40

/* The output so far; past cap only counted, so that a malformed input still answers -1 rather than -2. */
typedef struct {
  uint8_t *out;
  size_t cap, len;
  bool overflow;
  bool keyframe;
  size_t nal_count;
} sink;

static void put(sink *s, const uint8_t *bytes, size_t n) {
  if (s->overflow || n > s->cap - s->len) {
    s->overflow = true;
    return;
  }
  if (n > 0) memcpy(s->out + s->len, bytes, n);
  s->len += n;
}

static const uint8_t START_CODE[4] = {0, 0, 0, 1};

static unsigned header_bytes(gb_codec codec) { return codec == GB_CODEC_H264 ? 1 : 2; }

static int nal_type(gb_codec codec, const uint8_t *header) { return codec == GB_CODEC_H264 ? header[0] & 0x1f : (header[0] >> 1) & 0x3f; }

static bool is_nal(gb_codec codec, int type) { return codec == GB_CODEC_H264 ? type >= 1 && type <= 23 : type <= 47; }

static bool is_ignored(gb_codec codec, int type) { return codec == GB_CODEC_H264 ? type == 0 || type >= 30 : type >= 50; }

static void note_type(sink *s, gb_codec codec, int type) {
  s->nal_count++;
  if (codec == GB_CODEC_H264 ? type == 5 : type >= 16 && type <= 21) s->keyframe = true;
}

static bool push_nal(sink *s, gb_codec codec, const uint8_t *nal, size_t len) {
  if (len < header_bytes(codec)) return false;
  int type = nal_type(codec, nal);
  if (!is_nal(codec, type)) return false;
  put(s, START_CODE, sizeof START_CODE);
  put(s, nal, len);
  note_type(s, codec, type);
  return true;
}

/* STAP-A / AP: after the payload header, NAL units each behind a 16-bit size. */
static bool read_aggregate(sink *s, gb_codec codec, const uint8_t *payload, size_t len) {
  size_t offset = header_bytes(codec);
  if (offset >= len) return false;
  while (offset < len) {
    if (len - offset < 2) return false;
    size_t size = (size_t)payload[offset] << 8 | payload[offset + 1];
    offset += 2;
    if (size == 0 || size > len - offset) return false;
    if (!push_nal(s, codec, payload + offset, size)) return false;
    offset += size;
  }
  return true;
}

long gb_depacketize(gb_codec codec, const uint8_t *const *payloads, const size_t *lens, size_t count, uint8_t *out, size_t cap, bool *keyframe) {
  if (codec != GB_CODEC_H264 && codec != GB_CODEC_HEVC) return -1;
  if (count > 0 && (payloads == NULL || lens == NULL)) return -1;
  sink s = {.out = out, .cap = out == NULL ? 0 : cap};
  const unsigned hb = header_bytes(codec);
  const int aggregation = codec == GB_CODEC_H264 ? 24 : 48;
  const int fragmentation = codec == GB_CODEC_H264 ? 28 : 49;
  /* the type of the NAL unit whose fragments are being joined, or -1 between NAL units */
  int fragment_type = -1;

  for (size_t i = 0; i < count; i++) {
    const uint8_t *payload = payloads[i];
    size_t len = lens[i];
    if (len < hb || payload == NULL) return -1;
    int type = nal_type(codec, payload);
    if (type == fragmentation) {
      if (len < hb + 1u) return -1;
      uint8_t fu_header = payload[hb];
      int fu_type = codec == GB_CODEC_H264 ? fu_header & 0x1f : fu_header & 0x3f;
      if (fu_header & FU_START) {
        if (fragment_type != -1 || !is_nal(codec, fu_type)) return -1;
        fragment_type = fu_type;
        uint8_t rebuilt[2];
        if (codec == GB_CODEC_H264) {
          rebuilt[0] = (uint8_t)((payload[0] & 0xe0) | fu_type);
        } else {
          rebuilt[0] = (uint8_t)((payload[0] & 0x81) | (fu_type << 1));
          rebuilt[1] = payload[1];
        }
        put(&s, START_CODE, sizeof START_CODE);
        put(&s, rebuilt, hb);
        note_type(&s, codec, fu_type);
      } else if (fragment_type != fu_type) {
        return -1;
      }
      put(&s, payload + hb + 1, len - hb - 1);
      /* start and end in one fragment breaks the RFCs' rule but is a whole NAL unit all the same */
      if (fu_header & FU_END) fragment_type = -1;
      continue;
    }
    if (fragment_type != -1) return -1;
    if (type == aggregation) {
      if (!read_aggregate(&s, codec, payload, len)) return -1;
    } else if (is_nal(codec, type)) {
      push_nal(&s, codec, payload, len);
    } else if (!is_ignored(codec, type)) {
      return -1;
    }
  }
  if (fragment_type != -1 || s.nal_count == 0) return -1;
  if (s.overflow || s.len > (size_t)LONG_MAX) return -2;
  if (keyframe) *keyframe = s.keyframe;
  return (long)s.len;
}
