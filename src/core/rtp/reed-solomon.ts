/**
 * Systematic Reed-Solomon erasure code over GF(2^8) (polynomial x^8+x^4+x^3+x^2+1, 0x11d).
 *
 * The k data shards go out as they are; the m parity shards are the rows of a Cauchy matrix applied to
 * them. Every square submatrix of a Cauchy matrix is invertible, so with the identity rows of the data
 * shards on top, any k of the k+m shards give back the data (the code is MDS).
 */
import { loadGfSimd, TABLE_BYTES } from './gf-simd';

const FIELD_SIZE = 256;
const POLYNOMIAL = 0x11d;
const MAX_SHARDS = 255;
const MAX_CACHED_MATRICES = 64;

const EXP = new Uint8Array(2 * FIELD_SIZE);
const LOG = new Uint8Array(FIELD_SIZE);
for (let i = 0, x = 1; i < FIELD_SIZE - 1; i += 1) {
  EXP[i] = x;
  LOG[x] = i;
  x <<= 1;
  if (x & FIELD_SIZE) x ^= POLYNOMIAL;
}
// doubled so that EXP[LOG[a] + LOG[b]] needs no modulo
for (let i = FIELD_SIZE - 1; i < EXP.length; i += 1) EXP[i] = EXP[i - (FIELD_SIZE - 1)]!;

/** MUL[(a << 8) | b] = a·b; the row of a constant is MUL.subarray(a << 8, (a << 8) + 256). */
const MUL = new Uint8Array(FIELD_SIZE * FIELD_SIZE);
for (let a = 1; a < FIELD_SIZE; a += 1) {
  for (let b = 1; b < FIELD_SIZE; b += 1) MUL[(a << 8) | b] = EXP[LOG[a]! + LOG[b]!]!;
}

const simd = loadGfSimd((a, b) => MUL[(a << 8) | b]!);

/** Whether shards are coded in WebAssembly SIMD here (else 32-bit table lookups in JavaScript). */
export const REED_SOLOMON_SIMD = simd !== null;

const SIMD_ALIGN = 16;
const alignUp = (bytes: number) => (bytes + SIMD_ALIGN - 1) & ~(SIMD_ALIGN - 1);

function inverse(a: number): number {
  return EXP[FIELD_SIZE - 1 - LOG[a]!]!;
}

/**
 * out ^= c·src. Aligned shards go four bytes at a time through 32-bit views (each byte is looked up on
 * its own, so byte order does not matter), about twice as fast as byte by byte in V8.
 */
function mulAdd(out: Uint8Array, src: Uint8Array, c: number): void {
  if (c === 0) return;
  const n = out.length;
  let done = 0;
  if (((out.byteOffset | src.byteOffset) & 3) === 0) {
    const words = n >> 2;
    const out32 = new Uint32Array(out.buffer, out.byteOffset, words);
    const src32 = new Uint32Array(src.buffer, src.byteOffset, words);
    if (c === 1) {
      for (let i = 0; i < words; i += 1) out32[i]! ^= src32[i]!;
    } else {
      const row = MUL.subarray(c << 8, (c << 8) + FIELD_SIZE);
      for (let i = 0; i < words; i += 1) {
        const s = src32[i]!;
        out32[i]! ^= row[s & 0xff]! | (row[(s >>> 8) & 0xff]! << 8) | (row[(s >>> 16) & 0xff]! << 16) | (row[s >>> 24]! << 24);
      }
    }
    done = words << 2;
  }
  if (c === 1) {
    for (let i = done; i < n; i += 1) out[i]! ^= src[i]!;
    return;
  }
  const row = MUL.subarray(c << 8, (c << 8) + FIELD_SIZE);
  for (let i = done; i < n; i += 1) out[i]! ^= row[src[i]!]!;
}

const parityMatrices = new Map<string, Uint8Array>();

/** m×k Cauchy rows, row-major: entry (j, i) = 1 / (x_j + y_i) with x_j = k + j and y_i = i, all distinct. */
function parityMatrix(k: number, m: number): Uint8Array {
  const key = `${k},${m}`;
  const cached = parityMatrices.get(key);
  if (cached) return cached;
  const matrix = new Uint8Array(m * k);
  for (let j = 0; j < m; j += 1) {
    for (let i = 0; i < k; i += 1) matrix[j * k + i] = inverse((k + j) ^ i);
  }
  if (parityMatrices.size >= MAX_CACHED_MATRICES) parityMatrices.delete(parityMatrices.keys().next().value!);
  parityMatrices.set(key, matrix);
  return matrix;
}

/** Gauss-Jordan inversion of an n×n row-major matrix (destroyed); null when it is singular. */
function invert(matrix: Uint8Array, n: number): Uint8Array | null {
  const result = new Uint8Array(n * n);
  for (let i = 0; i < n; i += 1) result[i * n + i] = 1;
  for (let col = 0; col < n; col += 1) {
    let pivot = col;
    while (pivot < n && matrix[pivot * n + col] === 0) pivot += 1;
    if (pivot === n) return null;
    if (pivot !== col) {
      swapRows(matrix, n, pivot, col);
      swapRows(result, n, pivot, col);
    }
    const scale = inverse(matrix[col * n + col]!);
    scaleRow(matrix, n, col, scale);
    scaleRow(result, n, col, scale);
    for (let row = 0; row < n; row += 1) {
      const factor = row === col ? 0 : matrix[row * n + col]!;
      if (factor === 0) continue;
      subtractRow(matrix, n, row, col, factor);
      subtractRow(result, n, row, col, factor);
    }
  }
  return result;
}

function swapRows(matrix: Uint8Array, n: number, a: number, b: number): void {
  const rowA = matrix.slice(a * n, a * n + n);
  matrix.copyWithin(a * n, b * n, b * n + n);
  matrix.set(rowA, b * n);
}

function scaleRow(matrix: Uint8Array, n: number, row: number, factor: number): void {
  for (let i = row * n; i < row * n + n; i += 1) matrix[i] = MUL[(factor << 8) | matrix[i]!]!;
}

/** row -= factor·source (subtraction is xor in GF(2^8)). */
function subtractRow(matrix: Uint8Array, n: number, row: number, source: number, factor: number): void {
  for (let i = 0; i < n; i += 1) matrix[row * n + i]! ^= MUL[(factor << 8) | matrix[source * n + i]!]!;
}

export class ReedSolomon {
  readonly dataShards: number;
  readonly parityShards: number;
  private readonly parity: Uint8Array;
  private readonly simd: typeof simd;

  /** `options.simd` false: the JavaScript kernel even where SIMD is available (for tests). */
  constructor(dataShards: number, parityShards: number, options: { simd?: boolean } = {}) {
    if (!Number.isInteger(dataShards) || !Number.isInteger(parityShards) || dataShards < 1 || parityShards < 0 || dataShards + parityShards > MAX_SHARDS) {
      throw new RangeError(`Reed-Solomon needs 1 <= k, 0 <= m, k + m <= ${MAX_SHARDS}; got k=${dataShards}, m=${parityShards}`);
    }
    this.dataShards = dataShards;
    this.parityShards = parityShards;
    this.parity = parityMatrix(dataShards, parityShards);
    this.simd = options.simd === false ? null : simd;
  }

  /**
   * Parity shards for k data shards of `length` bytes that `write(i, into)` puts into `into` (zeroed, of
   * `length` bytes), without a copy of its own for each. The m shards returned are views that the next
   * call on any ReedSolomon overwrites: copy them out before.
   */
  encodeWith(length: number, write: (index: number, into: Uint8Array) => void): Uint8Array[] {
    const k = this.dataShards;
    const m = this.parityShards;
    if (!Number.isInteger(length) || length < 0) throw new RangeError(`shard length must be a non-negative integer, got ${length}`);
    if (!this.simd) {
      const data = Array.from({ length: k }, (_, index) => {
        const shard = new Uint8Array(length);
        write(index, shard);
        return shard;
      });
      return this.encodeJs(data, length);
    }
    const stride = alignUp(length);
    this.simd.reserve((k + m) * stride);
    const heap = this.simd.heap();
    heap.fill(0, TABLE_BYTES, TABLE_BYTES + (k + m) * stride);
    for (let i = 0; i < k; i += 1) write(i, heap.subarray(TABLE_BYTES + i * stride, TABLE_BYTES + i * stride + length));
    const parity: Uint8Array[] = [];
    for (let j = 0; j < m; j += 1) {
      const out = TABLE_BYTES + (k + j) * stride;
      for (let i = 0; i < k; i += 1) {
        const c = this.parity[j * k + i]!;
        if (c !== 0) this.simd.mulAdd(out, TABLE_BYTES + i * stride, stride, c);
      }
      parity.push(heap.subarray(out, out + length));
    }
    return parity;
  }

  /** Parity shards for k data shards, all the same length L; returns m new Uint8Array(L). */
  encode(data: readonly Uint8Array[]): Uint8Array[] {
    const k = this.dataShards;
    if (data.length !== k) throw new RangeError(`expected ${k} data shards, got ${data.length}`);
    const length = data[0]!.length;
    for (const shard of data) if (shard.length !== length) throw new RangeError('data shards differ in length');
    if (this.simd) return this.encodeWith(length, (index, into) => into.set(data[index]!)).map((shard) => shard.slice());
    return this.encodeJs(data, length);
  }

  private encodeJs(data: readonly Uint8Array[], length: number): Uint8Array[] {
    const k = this.dataShards;
    const parity: Uint8Array[] = [];
    for (let j = 0; j < this.parityShards; j += 1) {
      const out = new Uint8Array(length);
      for (let i = 0; i < k; i += 1) mulAdd(out, data[i]!, this.parity[j * k + i]!);
      parity.push(out);
    }
    return parity;
  }

  /**
   * shards: length k+m, data first then parity, null where lost; all present ones length L. Fills the
   * missing data shards in place (returns true), or returns false when fewer than k shards are present.
   */
  reconstruct(shards: (Uint8Array | null)[]): boolean {
    const k = this.dataShards;
    if (shards.length !== k + this.parityShards) throw new RangeError(`expected ${k + this.parityShards} shards, got ${shards.length}`);
    let length = -1;
    const used: number[] = [];
    const missing: number[] = [];
    shards.forEach((shard, index) => {
      if (!shard) {
        if (index < k) missing.push(index);
        return;
      }
      if (length === -1) length = shard.length;
      else if (shard.length !== length) throw new RangeError('shards differ in length');
      // data rows come first, so the parity rows only stand in for lost data
      if (used.length < k) used.push(index);
    });
    if (missing.length === 0) return true;
    if (used.length < k) return false;

    const matrix = new Uint8Array(k * k);
    used.forEach((index, row) => {
      if (index < k) matrix[row * k + index] = 1;
      else matrix.set(this.parity.subarray((index - k) * k, (index - k + 1) * k), row * k);
    });
    const decode = invert(matrix, k);
    if (!decode) return false;
    if (this.simd) {
      this.reconstructSimd(shards, used, missing, decode, length);
      return true;
    }
    for (const index of missing) {
      const out = new Uint8Array(length);
      for (let row = 0; row < k; row += 1) mulAdd(out, shards[used[row]!]!, decode[index * k + row]!);
      shards[index] = out;
    }
    return true;
  }

  private reconstructSimd(shards: (Uint8Array | null)[], used: number[], missing: number[], decode: Uint8Array, length: number): void {
    const simd = this.simd!;
    const k = this.dataShards;
    const stride = alignUp(length);
    simd.reserve((k + missing.length) * stride);
    const heap = simd.heap();
    used.forEach((index, row) => heap.set(shards[index]!, TABLE_BYTES + row * stride));
    missing.forEach((index, slot) => {
      const out = TABLE_BYTES + (k + slot) * stride;
      heap.fill(0, out, out + stride);
      for (let row = 0; row < k; row += 1) {
        const c = decode[index * k + row]!;
        if (c !== 0) simd.mulAdd(out, TABLE_BYTES + row * stride, stride, c);
      }
      shards[index] = heap.slice(out, out + length);
    });
  }
}
