/*
 * Systematic Reed-Solomon erasure code over GF(2^8) (polynomial 0x11d), as reed-solomon.ts codes it: the
 * same field, the same Cauchy parity rows (the encoding) and the same choice of rows to invert (the
 * decoding), so either side takes the other's parity.
 */
#include <string.h>

#include "rs.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_SSSE3_KERNEL 1
#endif

#define FIELD_SIZE 256
#define POLYNOMIAL 0x11d

static uint8_t exp_table[2 * FIELD_SIZE];
static uint8_t log_table[FIELD_SIZE];
/* mul_table[c][a] = c·a */
static uint8_t mul_table[FIELD_SIZE][FIELD_SIZE];
/* nibble_table[c][0][n] = c·n, nibble_table[c][1][n] = c·(n << 4): c·a is the xor of a's two nibbles' products */
static uint8_t nibble_table[FIELD_SIZE][2][16] __attribute__((aligned(16)));

__attribute__((constructor)) static void build_tables(void) {
  for (unsigned i = 0, x = 1; i < FIELD_SIZE - 1; i += 1) {
    exp_table[i] = (uint8_t)x;
    log_table[x] = (uint8_t)i;
    x <<= 1;
    if (x & FIELD_SIZE) x ^= POLYNOMIAL;
  }
  /* doubled so that exp_table[log a + log b] needs no modulo */
  for (unsigned i = FIELD_SIZE - 1; i < 2 * FIELD_SIZE; i += 1) exp_table[i] = exp_table[i - (FIELD_SIZE - 1)];
  for (unsigned a = 1; a < FIELD_SIZE; a += 1) {
    for (unsigned b = 1; b < FIELD_SIZE; b += 1) mul_table[a][b] = exp_table[log_table[a] + log_table[b]];
  }
  for (unsigned c = 0; c < FIELD_SIZE; c += 1) {
    for (unsigned n = 0; n < 16; n += 1) {
      nibble_table[c][0][n] = mul_table[c][n];
      nibble_table[c][1][n] = mul_table[c][n << 4];
    }
  }
}

static uint8_t inverse(uint8_t a) {
  return exp_table[FIELD_SIZE - 1 - log_table[a]];
}

uint8_t gb_rs_mul(uint8_t c, uint8_t a) {
  return mul_table[c][a];
}

uint8_t gb_rs_parity_entry(unsigned k, unsigned j, unsigned i) {
  /* 1 / (x_j + y_i) with x_j = k + j and y_i = i, all distinct */
  return inverse((uint8_t)((k + j) ^ i));
}

#ifdef HAVE_SSSE3_KERNEL
/*
 * out ^= c·src 16 bytes at a time, each byte's two nibbles looked up in c's 16-entry tables with PSHUFB
 * (the method of ISA-L and of gf-simd.ts); returns how many bytes it did, the rest is left to the caller.
 */
__attribute__((target("ssse3"))) static size_t mul_add_ssse3(uint8_t *out, const uint8_t *src, size_t len, uint8_t c) {
  const __m128i low = _mm_load_si128((const __m128i *)nibble_table[c][0]);
  const __m128i high = _mm_load_si128((const __m128i *)nibble_table[c][1]);
  const __m128i mask = _mm_set1_epi8(0x0f);
  size_t i = 0;
  for (; i + 16 <= len; i += 16) {
    const __m128i bytes = _mm_loadu_si128((const __m128i *)(src + i));
    const __m128i product = _mm_xor_si128(_mm_shuffle_epi8(low, _mm_and_si128(bytes, mask)), _mm_shuffle_epi8(high, _mm_and_si128(_mm_srli_epi64(bytes, 4), mask)));
    _mm_storeu_si128((__m128i *)(out + i), _mm_xor_si128(_mm_loadu_si128((const __m128i *)(out + i)), product));
  }
  return i;
}

static bool have_ssse3;

__attribute__((constructor)) static void detect_cpu(void) {
  __builtin_cpu_init();
  have_ssse3 = __builtin_cpu_supports("ssse3");
}
#endif

void gb_rs_mul_add(uint8_t *out, const uint8_t *src, size_t len, uint8_t c) {
  if (c == 0) return;
  size_t done = 0;
#ifdef HAVE_SSSE3_KERNEL
  if (have_ssse3) done = mul_add_ssse3(out, src, len, c);
#endif
  const uint8_t *row = mul_table[c];
  for (size_t i = done; i < len; i += 1) out[i] ^= row[src[i]];
}

static void swap_rows(uint8_t *matrix, unsigned n, unsigned a, unsigned b) {
  for (unsigned i = 0; i < n; i += 1) {
    uint8_t t = matrix[a * n + i];
    matrix[a * n + i] = matrix[b * n + i];
    matrix[b * n + i] = t;
  }
}

static void scale_row(uint8_t *matrix, unsigned n, unsigned row, uint8_t factor) {
  for (unsigned i = row * n; i < row * n + n; i += 1) matrix[i] = mul_table[factor][matrix[i]];
}

/* row -= factor·source (subtraction is xor in GF(2^8)) */
static void subtract_row(uint8_t *matrix, unsigned n, unsigned row, unsigned source, uint8_t factor) {
  for (unsigned i = 0; i < n; i += 1) matrix[row * n + i] ^= mul_table[factor][matrix[source * n + i]];
}

/* Gauss-Jordan inversion of the n×n matrix (destroyed) into result; false when it is singular. */
static bool invert(uint8_t *matrix, unsigned n, uint8_t *result) {
  memset(result, 0, (size_t)n * n);
  for (unsigned i = 0; i < n; i += 1) result[i * n + i] = 1;
  for (unsigned col = 0; col < n; col += 1) {
    unsigned pivot = col;
    while (pivot < n && matrix[pivot * n + col] == 0) pivot += 1;
    if (pivot == n) return false;
    if (pivot != col) {
      swap_rows(matrix, n, pivot, col);
      swap_rows(result, n, pivot, col);
    }
    uint8_t scale = inverse(matrix[col * n + col]);
    scale_row(matrix, n, col, scale);
    scale_row(result, n, col, scale);
    for (unsigned row = 0; row < n; row += 1) {
      uint8_t factor = row == col ? 0 : matrix[row * n + col];
      if (factor == 0) continue;
      subtract_row(matrix, n, row, col, factor);
      subtract_row(result, n, row, col, factor);
    }
  }
  return true;
}

bool gb_rs_decode_matrix(unsigned k, unsigned m, const uint8_t *used, uint8_t *work, uint8_t *decode) {
  if (k < 1 || k + m > GB_RS_MAX_SHARDS) return false;
  memset(work, 0, (size_t)k * k);
  for (unsigned row = 0; row < k; row += 1) {
    unsigned index = used[row];
    if (index < k) {
      work[row * k + index] = 1;
    } else {
      for (unsigned i = 0; i < k; i += 1) work[row * k + i] = gb_rs_parity_entry(k, index - k, i);
    }
  }
  return invert(work, k, decode);
}
