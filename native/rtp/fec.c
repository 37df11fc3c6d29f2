/*
 * FEC packets of the rtp video transport (fec.ts): buildFecPayloads, parseFecPayload and recoverBlock. A
 * data shard is a media payload behind its length (u16 BE), zero-padded to the block's shard length.
 */
#include <stdlib.h>
#include <string.h>

#include "gb_rtp.h"
#include "rs.h"

#define FEC_HEADER_BYTES 8
#define LENGTH_PREFIX_BYTES 2
#define ENDS_FRAME_FLAG 0x01
#define STARTS_FRAME_FLAG 0x02
#define MAX_SHARD_LENGTH 0xffff

long gb_fec_build(uint16_t base_seq, const uint8_t *const *payloads, const size_t *lens, size_t k, size_t m, bool ends_frame, bool starts_frame, uint8_t *out, size_t cap) {
  if (k < 1 || k > GB_RS_MAX_SHARDS || m > GB_RS_MAX_SHARDS - k || !payloads || !lens) return -1;
  if (m == 0) return 0;
  size_t longest = 0;
  for (size_t i = 0; i < k; i += 1) {
    if (lens[i] > 0 && !payloads[i]) return -1;
    if (lens[i] > longest) longest = lens[i];
  }
  if (longest > MAX_SHARD_LENGTH - LENGTH_PREFIX_BYTES) return -1;
  const size_t shard_length = LENGTH_PREFIX_BYTES + longest;
  const size_t packet_bytes = FEC_HEADER_BYTES + shard_length;
  if (!out || cap / packet_bytes < m) return -1;

  for (size_t j = 0; j < m; j += 1) {
    uint8_t *packet = out + j * packet_bytes;
    const uint8_t header[FEC_HEADER_BYTES] = {base_seq >> 8, base_seq, k, m, j, (ends_frame ? ENDS_FRAME_FLAG : 0) | (starts_frame ? STARTS_FRAME_FLAG : 0), shard_length >> 8, shard_length};
    memcpy(packet, header, FEC_HEADER_BYTES);
    uint8_t *parity = packet + FEC_HEADER_BYTES;
    memset(parity, 0, shard_length);
    for (size_t i = 0; i < k; i += 1) {
      /* data shard i: its length prefix, the payload, then zeros that add nothing (so it is never copied out) */
      const uint8_t c = gb_rs_parity_entry((unsigned)k, (unsigned)j, (unsigned)i);
      parity[0] ^= gb_rs_mul(c, (uint8_t)(lens[i] >> 8));
      parity[1] ^= gb_rs_mul(c, (uint8_t)lens[i]);
      gb_rs_mul_add(parity + LENGTH_PREFIX_BYTES, payloads[i], lens[i], c);
    }
  }
  return (long)shard_length;
}

bool gb_fec_parse(const uint8_t *payload, size_t len, gb_fec_header *header, const uint8_t **shard) {
  if (len < FEC_HEADER_BYTES) return false;
  unsigned k = payload[2], m = payload[3], index = payload[4];
  size_t shard_length = (size_t)payload[6] << 8 | payload[7];
  if (k < 1 || k + m > GB_RS_MAX_SHARDS || index >= m) return false;
  if (shard_length < LENGTH_PREFIX_BYTES || len - FEC_HEADER_BYTES != shard_length) return false;
  header->base_seq = (uint16_t)(payload[0] << 8 | payload[1]);
  header->k = (uint8_t)k;
  header->m = (uint8_t)m;
  header->index = (uint8_t)index;
  header->ends_frame = payload[5] & ENDS_FRAME_FLAG;
  header->starts_frame = payload[5] & STARTS_FRAME_FLAG;
  header->shard_length = (uint16_t)shard_length;
  *shard = payload + FEC_HEADER_BYTES;
  return true;
}

bool gb_fec_recover(const gb_fec_header *header, const uint8_t **media, size_t *media_len, const uint8_t *const *parity, uint8_t *scratch) {
  const unsigned k = header->k, m = header->m;
  const size_t shard_length = header->shard_length;
  if (k < 1 || k + m > GB_RS_MAX_SHARDS || shard_length < LENGTH_PREFIX_BYTES) return false;
  const size_t max_payload = shard_length - LENGTH_PREFIX_BYTES;

  unsigned missing = 0;
  for (unsigned i = 0; i < k; i += 1) {
    if (media[i] && media_len[i] > max_payload) return false;
    if (!media[i]) missing += 1;
  }
  if (missing == 0) return true;

  /* the first k shards present, data before parity, so parity only stands in for lost data */
  uint8_t used[GB_RS_MAX_SHARDS];
  unsigned used_count = 0;
  for (unsigned index = 0; index < k + m && used_count < k; index += 1) {
    if (index < k ? media[index] != NULL : parity[index - k] != NULL) used[used_count++] = (uint8_t)index;
  }
  if (used_count < k) return false;

  uint8_t *matrices = malloc(2 * (size_t)k * k);
  if (!matrices) return false;
  uint8_t *decode = matrices + (size_t)k * k;
  bool recovered = gb_rs_decode_matrix(k, m, used, matrices, decode);

  for (unsigned i = 0; recovered && i < k; i += 1) {
    if (media[i]) continue;
    uint8_t *out = scratch + (size_t)i * shard_length;
    memset(out, 0, shard_length);
    for (unsigned row = 0; row < k; row += 1) {
      const uint8_t c = decode[i * k + row];
      const unsigned source = used[row];
      if (source >= k) {
        gb_rs_mul_add(out, parity[source - k], shard_length, c);
        continue;
      }
      /* a received payload as its data shard: the length prefix, the payload, then zeros that add nothing */
      out[0] ^= gb_rs_mul(c, (uint8_t)(media_len[source] >> 8));
      out[1] ^= gb_rs_mul(c, (uint8_t)media_len[source]);
      gb_rs_mul_add(out + LENGTH_PREFIX_BYTES, media[source], media_len[source], c);
    }
    if (((size_t)out[0] << 8 | out[1]) > max_payload) recovered = false;
  }
  free(matrices);
  if (!recovered) return false;

  for (unsigned i = 0; i < k; i += 1) {
    if (media[i]) continue;
    const uint8_t *out = scratch + (size_t)i * shard_length;
    media_len[i] = (size_t)out[0] << 8 | out[1];
    media[i] = out + LENGTH_PREFIX_BYTES;
  }
  return true;
}
