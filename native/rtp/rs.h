/* Reed-Solomon over GF(2^8) as reed-solomon.ts codes it (rs.c): the internals fec.c encodes and decodes with. */
#ifndef GB_RS_H
#define GB_RS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GB_RS_MAX_SHARDS 255

/* out[i] ^= c·src[i] for i < len. */
void gb_rs_mul_add(uint8_t *out, const uint8_t *src, size_t len, uint8_t c);
/* c·a. */
uint8_t gb_rs_mul(uint8_t c, uint8_t a);
/*
 * Entry (j, i) of the m×k Cauchy parity rows of a k-data code (j < m, i < k, k + m <= 255): parity shard
 * j = Σ_i entry(j, i)·data shard i. Never 0.
 */
uint8_t gb_rs_parity_entry(unsigned k, unsigned j, unsigned i);
/*
 * The decoding matrix of a k-data, m-parity code for the k shards in used (indexes into data then parity,
 * ascending, as ReedSolomon.reconstruct picks them): data shard i = Σ_row decode[i·k + row]·shard(used[row]).
 * work and decode: k·k bytes each. False when the rows are singular.
 */
bool gb_rs_decode_matrix(unsigned k, unsigned m, const uint8_t *used, uint8_t *work, uint8_t *decode);

#endif
