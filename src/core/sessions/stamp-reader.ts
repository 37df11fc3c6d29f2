import type { Readable } from 'node:stream';
import { readStamp, STAMP_STRIP_BYTES } from './stamp';
import { preciseNow } from '../pairing/channel';

export interface DecodedFrame {
  /** Capture time on the host's clock, ms modulo 2^32 (null when the stamp was unreadable). */
  stampMs: number | null;
  /** When the decoded frame reached us, on this machine's wall clock (ms, sub-ms resolution). */
  decodedAt: number;
}

/** Cuts the receiver's stdout into stamp strips and reads each one as it arrives. */
export function readStamps(stream: Readable, onFrame: (frame: DecodedFrame) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  stream.on('data', (chunk: Buffer) => {
    const decodedAt = preciseNow();
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let offset = 0;
    while (pending.length - offset >= STAMP_STRIP_BYTES) {
      const read = readStamp(pending.subarray(offset, offset + STAMP_STRIP_BYTES));
      offset += STAMP_STRIP_BYTES;
      onFrame({ stampMs: read.ok ? read.ms : null, decodedAt });
    }
    pending = offset === 0 ? pending : Buffer.from(pending.subarray(offset));
  });
}
