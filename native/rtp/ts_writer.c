/* A minimal MPEG-TS muxer for one video stream: a byte-exact port of TsWriter in src/core/rtp/mpegts-writer.ts. */
#include <math.h>
#include <string.h>

#include "gb_rtp.h"

#define TS_PACKET_BYTES 188
#define TS_HEADER_BYTES 4
#define TS_PAYLOAD_BYTES (TS_PACKET_BYTES - TS_HEADER_BYTES)
#define PCR_FIELD_BYTES 8
#define PES_HEADER_BYTES 14
#define PES_LENGTH_OVERHEAD (PES_HEADER_BYTES - 6)
#define MAX_PES_LENGTH 0xffff
#define FIRST_PAYLOAD_MAX (TS_PAYLOAD_BYTES - PCR_FIELD_BYTES)
#define TABLES_INTERVAL_MS 1000.0
#define PAT_PID 0
#define PMT_PID 0x1000
#define VIDEO_PID 0x100
#define VIDEO_STREAM_ID 0xe0
#define PADDING_STREAM_ID 0xbe
#define PADDING_BYTES 4

static const uint8_t PAT[12] = {
    0x00, 0xb0, 13, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xe0 | (PMT_PID >> 8), PMT_PID & 0xff,
};

/* CRC-32/MPEG-2: polynomial 0x04C11DB7, initial 0xFFFFFFFF, no reflection, no final xor. */
static uint32_t crc32_mpeg2(const uint8_t *bytes, size_t len) {
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < len; i++) {
    crc ^= (uint32_t)bytes[i] << 24;
    for (int bit = 0; bit < 8; bit++) crc = crc & 0x80000000u ? (crc << 1) ^ 0x04c11db7u : crc << 1;
  }
  return crc;
}

static void put_be32(uint8_t *at, uint32_t value) {
  at[0] = (uint8_t)(value >> 24);
  at[1] = (uint8_t)(value >> 16);
  at[2] = (uint8_t)(value >> 8);
  at[3] = (uint8_t)value;
}

/* Math.round: halves go up. */
static double js_round(double x) {
  double r = floor(x);
  if (x - r >= 0.5) r += 1;
  return r == 0 && signbit(x) ? -0.0 : r;
}

/* The 90 kHz PTS (mod 2^33) of pts_ms; a NaN or infinite one writes as 0, as the TypeScript's bit operations read NaN. */
static uint64_t pts_from_ms(double ms) {
  const double modulus = 8589934592.0;
  double ticks = fmod(js_round(ms * 90), modulus);
  if (isnan(ticks)) return 0;
  if (ticks < 0) ticks += modulus;
  return ticks >= modulus ? 0 : (uint64_t)ticks;
}

static uint8_t next_counter(uint8_t *counter) {
  uint8_t value = *counter;
  *counter = (value + 1) & 0x0f;
  return value;
}

static void ts_header(uint8_t *at, unsigned pid, bool unit_start, bool adaptation_field, uint8_t counter) {
  at[0] = 0x47;
  at[1] = (uint8_t)((unit_start ? 0x40 : 0) | (pid >> 8));
  at[2] = pid & 0xff;
  at[3] = (uint8_t)((adaptation_field ? 0x30 : 0x10) | counter);
}

/* An adaptation field of exactly `bytes` bytes (1..184): the PCR if has_pcr, then 0xFF stuffing. */
static void adaptation_field(uint8_t *at, size_t bytes, bool has_pcr, uint64_t pcr_base, bool random_access) {
  at[0] = (uint8_t)(bytes - 1);
  if (bytes == 1) return;
  at[1] = (uint8_t)((random_access ? 0x40 : 0) | (has_pcr ? 0x10 : 0));
  size_t filled = 2;
  if (has_pcr) {
    /* 33-bit base, 6 reserved bits, 9-bit extension (0) */
    at[2] = (uint8_t)(pcr_base >> 25);
    at[3] = (uint8_t)(pcr_base >> 17);
    at[4] = (uint8_t)(pcr_base >> 9);
    at[5] = (uint8_t)(pcr_base >> 1);
    at[6] = (uint8_t)(((pcr_base & 1) << 7) | 0x7e);
    at[7] = 0;
    filled = PCR_FIELD_BYTES;
  }
  memset(at + filled, 0xff, bytes - filled);
}

/* One packet: pointer field, the section with its CRC, 0xFF after it (PSI stuffing). */
static void section_packet(uint8_t *at, unsigned pid, uint8_t *counter, const uint8_t *section, size_t len) {
  memset(at, 0xff, TS_PACKET_BYTES);
  ts_header(at, pid, true, false, next_counter(counter));
  at[TS_HEADER_BYTES] = 0;
  memcpy(at + TS_HEADER_BYTES + 1, section, len);
  put_be32(at + TS_HEADER_BYTES + 1 + len, crc32_mpeg2(section, len));
}

static size_t pes_packet_count(size_t au_len, size_t *first_payload) {
  /* the PES is PES_HEADER_BYTES + au_len bytes, the first packet's share at most FIRST_PAYLOAD_MAX */
  const size_t first_data = FIRST_PAYLOAD_MAX - PES_HEADER_BYTES;
  size_t rest = au_len > first_data ? au_len - first_data : 0;
  if (first_payload) *first_payload = au_len > first_data ? FIRST_PAYLOAD_MAX : PES_HEADER_BYTES + au_len;
  return 1 + rest / TS_PAYLOAD_BYTES + (rest % TS_PAYLOAD_BYTES != 0);
}

size_t gb_ts_bound(size_t au_len) {
  size_t packets = pes_packet_count(au_len, NULL);
  /* PAT, PMT and the padding-stream packet besides */
  if (packets > SIZE_MAX / TS_PACKET_BYTES - 3) return SIZE_MAX;
  return (packets + 3) * TS_PACKET_BYTES;
}

void gb_ts_init(gb_ts_writer *ts, gb_codec codec) {
  memset(ts, 0, sizeof *ts);
  ts->codec = codec;
}

size_t gb_ts_write(gb_ts_writer *ts, const uint8_t *au, size_t au_len, double pts_ms, bool keyframe, uint8_t *out) {
  if (au == NULL) au_len = 0;
  bool tables = !ts->has_tables || keyframe || fabs(pts_ms - ts->tables_at_ms) >= TABLES_INTERVAL_MS;
  if (tables) {
    ts->has_tables = true;
    ts->tables_at_ms = pts_ms;
  }
  size_t at = 0;
  if (tables) {
    const uint8_t pmt[17] = {
        0x02, 0xb0, 18, 0x00, 0x01, 0xc1, 0x00, 0x00, 0xe0 | (VIDEO_PID >> 8), VIDEO_PID & 0xff, 0xf0, 0x00,
        ts->codec == GB_CODEC_HEVC ? 0x24 : 0x1b, 0xe0 | (VIDEO_PID >> 8), VIDEO_PID & 0xff, 0xf0, 0x00,
    };
    section_packet(out, PAT_PID, &ts->pat_cc, PAT, sizeof PAT);
    section_packet(out + TS_PACKET_BYTES, PMT_PID, &ts->pmt_cc, pmt, sizeof pmt);
    at = 2 * TS_PACKET_BYTES;
  }

  uint64_t pts = pts_from_ms(pts_ms);
  bool bounded = au_len <= MAX_PES_LENGTH - PES_LENGTH_OVERHEAD;
  size_t length_field = bounded ? PES_LENGTH_OVERHEAD + au_len : 0;
  const uint8_t pes_header[PES_HEADER_BYTES] = {
      0x00, 0x00, 0x01, VIDEO_STREAM_ID, (uint8_t)(length_field >> 8), (uint8_t)length_field,
      0x84, /* marker bits, data alignment: the payload starts with an access unit */
      0x80, /* PTS only */
      5, (uint8_t)(0x21 | ((pts >> 30) & 0x07) << 1), (uint8_t)((pts >> 22) & 0xff), (uint8_t)((((pts >> 15) & 0x7f) << 1) | 1),
      (uint8_t)((pts >> 7) & 0xff), (uint8_t)(((pts & 0x7f) << 1) | 1),
  };

  size_t first_payload;
  size_t count = pes_packet_count(au_len, &first_payload);
  size_t pes_bytes = PES_HEADER_BYTES + au_len;
  size_t offset = 0; /* into the PES: its header, then the access unit */
  for (size_t index = 0; index < count; index++, at += TS_PACKET_BYTES) {
    bool first = index == 0;
    size_t length = first ? first_payload : TS_PAYLOAD_BYTES;
    if (length > pes_bytes - offset) length = pes_bytes - offset;
    size_t field_bytes = TS_PAYLOAD_BYTES - length;
    ts_header(out + at, VIDEO_PID, first, field_bytes > 0, next_counter(&ts->video_cc));
    if (field_bytes > 0) adaptation_field(out + at + TS_HEADER_BYTES, field_bytes, first, pts, first && keyframe);
    uint8_t *dst = out + at + TS_HEADER_BYTES + field_bytes;
    if (first) {
      memcpy(dst, pes_header, PES_HEADER_BYTES);
      if (length > PES_HEADER_BYTES) memcpy(dst + PES_HEADER_BYTES, au, length - PES_HEADER_BYTES);
    } else {
      memcpy(dst, au + (offset - PES_HEADER_BYTES), length);
    }
    offset += length;
  }

  if (!bounded) {
    /* a padding-stream PES ends the unbounded one now (mpegts-writer.ts says why) */
    const size_t pes = 6 + PADDING_BYTES;
    const size_t field_bytes = TS_PAYLOAD_BYTES - pes;
    uint8_t *p = out + at;
    ts_header(p, VIDEO_PID, true, true, next_counter(&ts->video_cc));
    adaptation_field(p + TS_HEADER_BYTES, field_bytes, false, 0, false);
    uint8_t *q = p + TS_HEADER_BYTES + field_bytes;
    q[0] = 0, q[1] = 0, q[2] = 1, q[3] = PADDING_STREAM_ID, q[4] = 0, q[5] = PADDING_BYTES;
    memset(q + 6, 0xff, PADDING_BYTES);
    at += TS_PACKET_BYTES;
  }
  return at;
}
