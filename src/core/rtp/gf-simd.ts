/**
 * out ^= c·src over GF(2^8), 16 bytes at a time in WebAssembly SIMD: each byte split into its two
 * nibbles, each nibble looked up in a 16-entry table of c's products with i8x16.swizzle (the PSHUFB
 * method of ISA-L and klauspost/reedsolomon). About twenty times the speed of the 32-bit table loop
 * in reed-solomon.ts, which stays as the fallback where WebAssembly SIMD is missing.
 *
 * The module is a few hand-assembled bytes (below, with the text form beside each line), so there is no
 * toolchain and nothing to load from disk.
 */

/** Bytes 0..8191 of the memory: for each c, 16 bytes c·n then 16 bytes c·(n << 4), n = 0..15. */
export const TABLE_BYTES = 256 * 32;
const PAGE_BYTES = 65536;

export interface GfSimd {
  /** The module's memory; grow with `reserve`, then read it anew (a grown memory is a new ArrayBuffer). */
  heap(): Uint8Array;
  /** Makes the memory at least TABLE_BYTES + `bytes` long. */
  reserve(bytes: number): void;
  /** heap[out..out+len) ^= c·heap[src..src+len); len a multiple of 16. */
  mulAdd(out: number, src: number, len: number, c: number): void;
}

const SIMD = 0xfd;
const V128 = 0x7b;
const I32 = 0x7f;

// (func (param $out i32) (param $src i32) (param $len i32) (param $c i32)
//   (local $end i32) (local $lo v128) (local $hi v128) (local $mask v128) (local $v v128) ...)
const BODY = [
  0x02, 0x01, I32, 0x04, V128, // locals: 1 i32 (4: end), 4 v128 (5: lo, 6: hi, 7: mask, 8: v)
  0x20, 0x03, 0x41, 0x05, 0x74, SIMD, 0x00, 0x04, 0x00, 0x21, 0x05, // lo = v128.load(c << 5)
  0x20, 0x03, 0x41, 0x05, 0x74, SIMD, 0x00, 0x04, 0x10, 0x21, 0x06, // hi = v128.load offset=16 (c << 5)
  0x41, 0x0f, SIMD, 0x0f, 0x21, 0x07, // mask = i8x16.splat(15)
  0x20, 0x00, 0x20, 0x02, 0x6a, 0x21, 0x04, // end = out + len
  0x02, 0x40, 0x03, 0x40, // block loop
  0x20, 0x00, 0x20, 0x04, 0x4f, 0x0d, 0x01, // br_if 1 (out >= end)
  0x20, 0x01, SIMD, 0x00, 0x00, 0x00, 0x21, 0x08, // v = v128.load(src)
  0x20, 0x00, // (store address)
  0x20, 0x00, SIMD, 0x00, 0x00, 0x00, // v128.load(out)
  0x20, 0x05, 0x20, 0x08, 0x20, 0x07, SIMD, 0x4e, SIMD, 0x0e, // swizzle(lo, v & mask)
  0x20, 0x06, 0x20, 0x08, 0x41, 0x04, SIMD, 0x6d, SIMD, 0x0e, // swizzle(hi, v >>> 4)
  SIMD, 0x51, SIMD, 0x51, // xor, xor
  SIMD, 0x0b, 0x00, 0x00, // v128.store(out)
  0x20, 0x00, 0x41, 0x10, 0x6a, 0x21, 0x00, // out += 16
  0x20, 0x01, 0x41, 0x10, 0x6a, 0x21, 0x01, // src += 16
  0x0c, 0x00, // br 0
  0x0b, 0x0b, 0x0b, // end loop, end block, end func
];

function section(id: number, content: number[]): number[] {
  return [id, ...leb(content.length), ...content];
}

function leb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

const name = (text: string) => [text.length, ...Buffer.from(text, 'ascii')];

const MODULE = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(1, [0x01, 0x60, 0x04, I32, I32, I32, I32, 0x00]), // type: (i32 i32 i32 i32) -> ()
  ...section(3, [0x01, 0x00]), // one function of type 0
  ...section(5, [0x01, 0x00, 0x01]), // one memory, at least one page
  ...section(7, [0x02, ...name('memory'), 0x02, 0x00, ...name('mulAdd'), 0x00, 0x00]),
  ...section(10, [0x01, ...leb(BODY.length), ...BODY]),
]);

/** The few WebAssembly calls made here: the node layer's libs (no DOM) declare no WebAssembly global. */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** The SIMD kernel with its tables filled in, or null where WebAssembly SIMD is not available. */
export function loadGfSimd(mul: (a: number, b: number) => number): GfSimd | null {
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (!wasm || !wasm.validate(MODULE)) return null;
  const instance = new wasm.Instance(new wasm.Module(MODULE));
  const memory = instance.exports.memory as WasmMemory;
  const mulAdd = instance.exports.mulAdd as (out: number, src: number, len: number, c: number) => void;
  let heap = new Uint8Array(memory.buffer);
  for (let c = 0; c < 256; c += 1) {
    for (let n = 0; n < 16; n += 1) {
      heap[c * 32 + n] = mul(c, n);
      heap[c * 32 + 16 + n] = mul(c, n << 4);
    }
  }
  return {
    heap: () => heap,
    reserve(bytes) {
      const needed = TABLE_BYTES + bytes;
      if (needed <= memory.buffer.byteLength) return;
      memory.grow(Math.ceil((needed - memory.buffer.byteLength) / PAGE_BYTES));
      heap = new Uint8Array(memory.buffer);
    },
    mulAdd,
  };
}
